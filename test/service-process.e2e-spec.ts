import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../src/database/embedded-postgres.js';

const run = promisify(execFile);
const BUILD_DIR = '.test-build';

/**
 * The service as `npm start` runs it: the compiled code in its own process, no DATABASE_URL (an
 * embedded PostgreSQL under DATA_DIR/pg), no SMTP_URL (mail as .eml files), no APP_SECRET.
 */
describe('the service process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tfa-process-'));
  let server: ChildProcess | undefined;
  let output = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let base = '';

  beforeAll(async () => {
    // The embedded server runs as the postgres user, which must reach its directory.
    chmodSync(dataDir, 0o755);
    rmSync(BUILD_DIR, { recursive: true, force: true });
    await run('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR]);
    cpSync('src/mail/templates', join(BUILD_DIR, 'src/mail/templates'), { recursive: true });
    const port = await findFreePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [join(BUILD_DIR, 'src/main.js')], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'log' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => server!.once('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/health`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the service did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 180_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(BUILD_DIR, { recursive: true, force: true });
  });

  it('starts on an embedded PostgreSQL with a generated secret and writes mail as .eml files', async () => {
    await expect(fetch(`${base}/health`).then((r) => r.json())).resolves.toEqual({ status: 'ok', database: 'up' });
    expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(statSync(join(dataDir, 'app-secret')).mode & 0o777).toBe(0o600);

    const registered = await fetch(`${base}/api/v1/users.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'processuser', email: 'process@example.com', pass: 'a long password', name: 'P' }),
    });
    expect(registered.status).toBe(200);
    const mailDir = join(dataDir, 'mail');
    const deadline = Date.now() + 10_000;
    while (!(existsSync(mailDir) && readdirSync(mailDir).length > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [file] = readdirSync(mailDir);
    expect(file).toMatch(/\.eml$/);
    expect(readFileSync(join(mailDir, file!), 'utf8')).toContain('To: process@example.com');
    expect(output).toContain(join(mailDir, file!));
  });

  it('shuts down gracefully on SIGTERM: requests in flight finish, then the database stops', async () => {
    const inFlight = Array.from({ length: 40 }, () =>
      fetch(`${base}/health`).then(async (response) => ({ status: response.status, body: await response.text() })),
    );
    server!.kill('SIGTERM');
    const answers = await Promise.allSettled(inFlight);
    const ended = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 20_000))]);

    // Nest closes everything, then re-raises the signal so the exit status says why it stopped.
    expect(ended).toEqual({ code: null, signal: 'SIGTERM' });
    const answered = answers.flatMap((answer) => (answer.status === 'fulfilled' ? [answer.value] : []));
    expect(answered.length).toBeGreaterThan(0);
    // Whatever was accepted was answered from a live database (no 500 or 503 from a stopped one).
    expect(answered.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(output).toContain('Embedded PostgreSQL stopped');
    expect(output).not.toMatch(/\bERROR\b/);
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
