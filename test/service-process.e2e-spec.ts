import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK_ROOT, fallbackClusterDir, placeCluster } from '../src/database/cluster-location.js';
import {
  buildService,
  errorLines,
  sigtermWithRequestsInFlight,
  messagesInLogOrder,
  startService,
  type ServiceProcess,
} from './helpers/service-process.js';

const run = promisify(execFile);
const BUILD_DIR = '.test-build';
const IN_FLIGHT = 20;
const isRoot = process.getuid?.() === 0;

beforeAll(() => buildService(BUILD_DIR), 120_000);
afterAll(() => rmSync(BUILD_DIR, { recursive: true, force: true }));

/**
 * The service as `npm start` runs it: the compiled code in its own process, no DATABASE_URL (an
 * embedded PostgreSQL under DATA_DIR/pg), no SMTP_URL (mail as .eml files), no APP_SECRET.
 */
describe('the service process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tfa-process-'));
  let service: ServiceProcess;

  beforeAll(async () => {
    // The embedded server runs as the postgres user, which must reach its directory.
    chmodSync(dataDir, 0o755);
    // The held logins of the shutdown test come from one address; the default limit would answer half 429.
    service = await startService(BUILD_DIR, { DATA_DIR: dataDir, RATE_LIMIT_PER_MINUTE: '1000' });
  }, 180_000);

  afterAll(async () => {
    await service?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts on an embedded PostgreSQL with a generated secret and writes mail as .eml files', async () => {
    const base = service.base;
    await expect(fetch(`${base}/health`).then((r) => r.json())).resolves.toEqual({ status: 'ok', database: 'up' });
    expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(service.logs().filter((entry) => String(entry.msg).includes('the cluster is in'))).toEqual([]);
    expect(statSync(join(dataDir, 'app-secret')).mode & 0o777).toBe(0o600);

    const registered = await fetch(`${base}/api/v1/users.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'processuser', email: 'process@example.com', pass: 'a long password', name: 'P' }),
    });
    expect(registered.status).toBe(200);
    const mailDir = join(dataDir, 'mail');
    const deadline = Date.now() + 10_000;
    const mailWritten = () => service.logs().find((entry) => String(entry.msg).startsWith(`Mail written to ${mailDir}`));
    // The log line follows the write; the file itself exists (empty) a moment before it is written.
    while (!mailWritten() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [file] = readdirSync(mailDir);
    expect(file).toMatch(/\.eml$/);
    expect(readFileSync(join(mailDir, file!), 'utf8')).toContain('To: process@example.com');
    expect(mailWritten()).toMatchObject({ level: 'info', context: 'Mail', msg: `Mail written to ${join(mailDir, file!)}` });
    // The log is JSON on stdout (not a terminal here): start-up lines, and the request's access line with its id.
    const registration = service
      .logs()
      .find((entry) => entry.msg === 'request completed' && entry.route === '/api/v1/users.register');
    expect(registration).toMatchObject({ method: 'POST', status: 200, reqId: registered.headers.get('x-request-id') });
    expect(service.logs().find((entry) => String(entry.msg).startsWith('Listening on http://'))).toMatchObject({
      context: 'Main',
    });
  });

  it('shuts down gracefully on SIGTERM: requests in flight are answered, then the database stops, exit code 0', async () => {
    const { outcomes, exit } = await sigtermWithRequestsInFlight(service, IN_FLIGHT);

    // Wrong credentials: 401 each, answered from a live database (no ECONNRESET, no 503).
    expect(outcomes).toEqual(Array(IN_FLIGHT).fill(401));
    expect(exit).toEqual({ code: 0, signal: null });
    const steps = [
      'Shutdown: SIGTERM received, draining HTTP requests',
      'Shutdown: HTTP requests drained',
      'Shutdown: mail worker stopped',
      'Shutdown: database pool closed',
      'Shutdown: embedded PostgreSQL stopped',
      'Shutdown: complete',
    ];
    const logs = service.logs();
    expect(messagesInLogOrder(logs, steps)).toEqual(steps);
    expect(errorLines(logs)).toEqual([]);
    const { stdout } = await run('ps', ['-eo', 'args']);
    expect(stdout).not.toContain(join(dataDir, 'pg'));
  });

  it('refuses to start on a bad value, naming the variable', async () => {
    const result = await run(process.execPath, [join(BUILD_DIR, 'src/main.js')], {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, PORT: 'eighty' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('PORT="eighty"');
  });
});

/**
 * A checkout under /root (mode 700) as root: the embedded server runs as the postgres system user,
 * which cannot traverse it. Not root (no postgres user involved): the plain case.
 */
describe('a DATA_DIR the postgres user cannot reach', () => {
  const home = mkdtempSync(join(tmpdir(), 'tfa-private-home-'));
  const dataDir = join(home, '.data');
  const fallback = fallbackClusterDir(join(dataDir, 'pg'));
  const fallbackRootExisted = existsSync(FALLBACK_ROOT);
  let service: ServiceProcess | undefined;

  beforeAll(() => chmodSync(home, 0o700));

  afterAll(async () => {
    await service?.kill();
    rmSync(home, { recursive: true, force: true });
    if (isRoot) {
      rmSync(dirname(fallback), { recursive: true, force: true });
      if (!fallbackRootExisted) rmSync(FALLBACK_ROOT, { recursive: true, force: true });
    }
  });

  it('runs the cluster where that user can reach it, and finds it there again on the next start', async () => {
    for (const start of ['first', 'second']) {
      service = await startService(BUILD_DIR, { DATA_DIR: dataDir });
      await expect(fetch(`${service.base}/health`).then((r) => r.json())).resolves.toEqual({ status: 'ok', database: 'up' });
      if (isRoot) {
        const placed = service.logs().find((entry) => String(entry.msg).includes('the cluster is in'));
        expect(placed?.msg, start).toContain(`the cluster is in ${fallback}, because the postgres system user`);
        expect(placed?.level, start).toBe('warn');
        expect(existsSync(join(fallback, 'PG_VERSION'))).toBe(true);
        expect(existsSync(`${fallback}.password`)).toBe(true);
        expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(false);
        const { stdout: postgresUid } = await run('id', ['-u', 'postgres']);
        expect(statSync(fallback)).toMatchObject({ uid: Number(postgresUid) });
        expect(statSync(fallback).mode & 0o777).toBe(0o700);
      } else {
        expect(service.logs().filter((entry) => String(entry.msg).includes('the cluster is in'))).toEqual([]);
        expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
      }
      service.child.kill('SIGTERM');
      expect(await service.exit(20_000)).toEqual({ code: 0, signal: null });
    }
  });

  it('stops with one sentence on stderr and exit code 78 when it cannot place the cluster anywhere', async () => {
    const otherDataDir = join(home, 'other');
    const blocked = dirname(fallbackClusterDir(join(otherDataDir, 'pg')));
    if (!isRoot) {
      // Without root the server runs as this user, who owns DATA_DIR: nothing to place elsewhere.
      expect(placeCluster(join(otherDataDir, 'pg'))).toEqual({ dir: join(otherDataDir, 'pg') });
      return;
    }
    // A file where this DATA_DIR's fallback directory would go; the fallbacks of others are untouched.
    mkdirSync(FALLBACK_ROOT, { recursive: true });
    writeFileSync(blocked, '');
    try {
      const result = await run(process.execPath, [join(BUILD_DIR, 'src/main.js')], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: otherDataDir, PORT: '0' },
      }).then(
        () => ({ code: 0, stdout: '', stderr: '' }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      expect(result.code).toBe(78);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/cannot reach .*set DATA_DIR to a directory the postgres user can reach, or set DATABASE_URL\.$/),
      ]);
    } finally {
      rmSync(blocked, { force: true });
    }
  });
});
