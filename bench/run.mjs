// npm run bench [-- --profile]: the service's hot paths against the machine's own limits (issue 8).
//
// One PostgreSQL (embedded unless DATABASE_URL is set) holds two databases: one for a bare
// Fastify + pg "floor" server, one for the service. Each server runs in its own process; each
// scenario's load comes from yet another process (autocannon, or a login-flow loop); this process
// only orchestrates and runs the SMTP server the service mails its codes to. The table compares
// the service's routes to the floor, and its complete 2FA logins to the raw argon2id rate; the
// server's CPU time per request (and PostgreSQL's, beside it) is the figure that survives a busy machine.
//
// Writes docs/benchmarks.md and bench/results/latest.json. Exit code 1 when any request failed:
// such a run's figures mean nothing. With --profile the service runs under --cpu-prof and the top
// functions by self time are printed (figures then go to bench/results/latest-profile.json only).
// With --only a,b (scenario letters) only those run, for a quick look at one path; such a partial
// run goes to bench/results/latest-partial.json and never replaces docs/benchmarks.md.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { topSelfTime } from './lib/cpu-profile.mjs';
import { FLOOR_ROWS, floorCredentials, seedFloorDatabase } from './lib/floor-db.mjs';
import { startMailSink } from './lib/mail-sink.mjs';
import { dropDatabase, recreateDatabase, serverVersion, startBenchPostgres } from './lib/postgres.mjs';
import { cpuSeconds, freePort, postgresCpuSeconds, runChild, startServer, statusKiB, watchPeakRss } from './lib/processes.mjs';
import { describeMachine, terminalTable, withRatios, writeJson, writeMarkdown } from './lib/report.mjs';
import { USER_AGENT, asksForSecondFactor, check, createUsers, loginS2, loginV1 } from './lib/service-setup.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH, '..');
const script = (name) => join(BENCH, name);

const { values: flags } = parseArgs({
  options: { profile: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const SCENARIOS = ['a', 'n', 'b', 'c', 'd', 'e', 'f'];
const only = flags.only ? new Set(flags.only.split(',').map((id) => id.trim())) : null;
for (const id of only ?? [])
  if (!SCENARIOS.includes(id)) throw new Error(`--only: no scenario "${id}" (${SCENARIOS.join(', ')})`);
const runs = (id) => !only || only.has(id);
const settings = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  durationSeconds: Number(process.env.BENCH_DURATION_SECONDS ?? 10),
  warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 2),
  virtualUsers: 20,
};
// As `npm run start:prod` sizes it (one libuv thread per core, at least 2), for the service and
// for the raw argon2 rate alike: argon2id runs on that pool.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, availableParallelism()));
const PASSWORD = 'bench password 123';
const ADMIN = { username: 'benchadmin', email: 'bench-admin@example.com', password: PASSWORD };
const DATABASES = { floor: 'tfa_bench_floor', service: 'tfa_bench_service' };
/** The Node options of package.json's start:prod (README, Memory). */
const SERVICE_NODE_ARGS = ['--max-old-space-size=192', '--max-semi-space-size=8'];

/**
 * The @Requires2FA scenario, inside the remember window of the admin's login. Every second-factor
 * route of Rocket.Chat's API writes; this one inserts a personal access token (a fresh name per
 * request, see load-http.mjs).
 */
const TWO_FACTOR_ROUTE = {
  method: 'POST',
  path: '/api/v1/users.generatePersonalAccessToken',
  body: JSON.stringify({ tokenName: 'bench-check' }),
  uniqueField: 'tokenName',
};

// ---------------------------------------------------------------------------------------------
// Clean-up: whatever was started is stopped, in reverse order, however the run ends.

const cleanups = [];
const atEnd = (step) => cleanups.push(step);
async function cleanUp() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (error) {
      console.error(`clean-up: ${error.message}`);
    }
  }
}
process.once('SIGINT', () => {
  console.error('\nInterrupted: stopping what was started.');
  void cleanUp().finally(() => process.exit(130));
});

const step = (text) => console.error(`» ${text}`);

// ---------------------------------------------------------------------------------------------
// Scenarios.

/**
 * Runs one load child to its end; meanwhile samples the server's RSS and counts the server's CPU
 * time over the measured window. `server` null: the child is itself what is measured (argon2), and
 * reports its own CPU time.
 */
async function measure(server, { script: file, options, onChild, ...row }) {
  step(`${row.id}) ${row.scenario}`);
  let peakRss = server ? watchPeakRss(server.pid) : null;
  let loadPid = null;
  let cpuAtStart = null;
  let postgresAtStart = null;
  let loadAtStart = null;
  let loadAtEnd = null;
  // The load side: the load generator, and this process (it runs the SMTP server of e).
  const loadCpuSeconds = () => {
    const generator = cpuSeconds(loadPid);
    const { user, system } = process.cpuUsage();
    return generator === null ? null : generator + (user + system) / 1e6;
  };
  const result = await runChild(file, options, {
    onChild: (child) => {
      loadPid = child.pid;
      peakRss ??= watchPeakRss(child.pid);
      onChild?.(child);
    },
    onMeasuring: () => {
      cpuAtStart = server && cpuSeconds(server.pid);
      postgresAtStart = server && postgresCpuSeconds();
      loadAtStart = server && loadCpuSeconds();
    },
    onResult: () => {
      loadAtEnd = server && loadCpuSeconds();
    },
  });
  const cpuAtEnd = server && cpuSeconds(server.pid);
  const postgresAtEnd = server && postgresCpuSeconds();
  const perOp = (start, end) =>
    start !== null && end !== null && result.requests ? ((end - start) * 1000) / result.requests : null;
  return {
    ...row,
    ...result,
    peakRssKiB: peakRss(),
    cpuMsPerOp: result.cpuMsPerOp ?? perOp(cpuAtStart, cpuAtEnd),
    postgresCpuMsPerOp: perOp(postgresAtStart, postgresAtEnd),
    loadCpuMsPerOp: perOp(loadAtStart, loadAtEnd),
  };
}

/** An autocannon scenario against `server`, first checked with one request. */
async function httpScenario(server, row, { method = 'GET', path, headers = {}, body, uniqueField }) {
  const allHeaders = { 'user-agent': USER_AGENT, ...headers, ...(body ? { 'content-type': 'application/json' } : {}) };
  await check(server.base, { method, path, headers: allHeaders, body });
  return measure(server, {
    ...row,
    unit: 'req/s',
    reference: 'a',
    referenceName: 'floor',
    script: script('load-http.mjs'),
    options: { url: `${server.base}${path}`, method, headers: allHeaders, body, uniqueField, ...settings },
  });
}

function flowScenario(service, mail, users) {
  return measure(service, {
    id: 'e',
    scenario: `full 2FA login: POST /api/v1/login → code from SMTP → verifyChallenge (${users.length} users in parallel loops)`,
    unit: 'flows/s',
    reference: 'f',
    referenceName: 'argon2',
    script: script('load-flows.mjs'),
    options: { base: service.base, users, userAgent: USER_AGENT, ...settings },
    onChild: (child) => {
      const stop = mail.onCode((message) => child.connected && child.send({ type: 'code', ...message }));
      child.once('exit', stop);
    },
  });
}

const argon2Scenario = () =>
  measure(null, {
    id: 'f',
    scenario: 'argon2id verify (19 MiB, t=2, p=1), one per libuv thread, own process',
    unit: 'verifies/s',
    script: script('argon2-rate.mjs'),
    options: settings,
  });

// ---------------------------------------------------------------------------------------------
// Servers.

/** One of the floor servers on the floor's database, measured with the floor's `GET /me`. */
async function runFloorServer(postgres, { id, name, file, scenario }) {
  const credentials = floorCredentials();
  const port = await freePort();
  const server = await startServer({
    name,
    script: script(file),
    env: { PATH: process.env.PATH, DATABASE_URL: postgres.urlFor(DATABASES.floor), PORT: String(port) },
    port,
    healthPath: '/me',
    ready: () => true, // any answer: it is listening
  });
  atEnd(() => server.stop());
  const row = await httpScenario(
    server,
    { id, scenario },
    { path: '/me', headers: { 'x-user-id': credentials.userId, 'x-auth-token': credentials.token } },
  );
  const peak = { name, peakKiB: statusKiB(server.pid, 'VmHWM') };
  await server.stop();
  return { rows: [row], peaks: [peak] };
}

async function runFloors(postgres) {
  const rows = [];
  const peaks = [];
  const floors = [
    runs('a') && {
      id: 'a',
      name: 'floor server',
      file: 'floor-server.mjs',
      scenario: `floor: GET /me, bare Fastify + pg, 1 prepared statement (${FLOOR_ROWS.toLocaleString('en-US')} rows)`,
    },
    runs('n') && {
      id: 'n',
      name: 'Nest floor server',
      file: 'nest-floor-server.mjs',
      scenario: 'Nest floor: the same GET /me as one Nest controller behind one guard',
    },
  ].filter(Boolean);
  for (const floor of floors) {
    const result = await runFloorServer(postgres, floor);
    rows.push(...result.rows);
    peaks.push(...result.peaks);
  }
  return { rows, peaks };
}

async function runService(postgres, mail, dataDir) {
  const profileDir = flags.profile ? join(ROOT, 'bench/results/profiles', new Date().toISOString().replace(/[:.]/g, '-')) : null;
  const port = await freePort();
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const service = await startServer({
    name: 'service',
    script: join(ROOT, 'dist/src/main.js'),
    // As `npm run start:prod` runs it (see README, Memory).
    nodeArgs: [...SERVICE_NODE_ARGS, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    // The production log level: an access line per request is part of what a request costs.
    logFile: join(ROOT, 'bench/results/service.log'),
    env: {
      ...process.env,
      // The allocator settings of start:prod (README, Memory): argon2's buffers go back after each hash.
      MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '131072',
      GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? 'glibc.malloc.hugetlb=1',
      NODE_ENV: 'production',
      APP_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
      DATA_DIR: dataDir,
      DATABASE_URL: postgres.urlFor(DATABASES.service),
      SMTP_URL: mail.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      // The bench is one client hammering a few routes: no limit must answer 429.
      RATE_LIMIT_PER_MINUTE: '1000000',
      RATE_LIMIT_AUTHENTICATED_PER_MINUTE: '1000000',
      RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '1000000',
      RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE: '1000000',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    },
    port,
    healthPath: '/health',
  });
  atEnd(() => service.stop());
  const { base } = service;

  step('logging in (surface 1 and 2, codes from mail) and creating the login-flow users');
  const v1Auth = await loginV1(base, mail, ADMIN);
  const users = await createUsers(base, v1Auth, settings.virtualUsers, PASSWORD);
  const s2Auth = await loginS2(base, mail, ADMIN);
  // After the surface 2 login: the probe may mail the admin a code, which must not be taken for that login's.
  const twoFactorChecked = await asksForSecondFactor(base, v1Auth, TWO_FACTOR_ROUTE);

  const twoFactorRow = `service: ${TWO_FACTOR_ROUTE.method} ${TWO_FACTOR_ROUTE.path.replace('/api/v1/', '')} (a write; remembered 2FA ${twoFactorChecked ? 'checked' : 'NOT checked by this route'})`;
  const rows = [];
  const me = { path: '/api/v1/me', headers: v1Auth };
  if (runs('b'))
    rows.push(await httpScenario(service, { id: 'b', scenario: 'service: GET /api/v1/me (X-User-Id/X-Auth-Token)' }, me));
  if (runs('c'))
    rows.push(await httpScenario(service, { id: 'c', scenario: twoFactorRow }, { ...TWO_FACTOR_ROUTE, headers: v1Auth }));
  const status = { path: '/api/auth/status', headers: s2Auth };
  if (runs('d'))
    rows.push(await httpScenario(service, { id: 'd', scenario: 'service: GET /api/auth/status (Bearer access token)' }, status));
  if (runs('e')) rows.push(await flowScenario(service, mail, users));

  const peak = { name: 'service', peakKiB: statusKiB(service.pid, 'VmHWM') };
  step('stopping the service (SIGTERM)');
  const exit = await service.stop();
  if (exit.code !== 0) console.error(`The service exited with ${exit.signal ?? `code ${exit.code}`}, not 0.`);
  return { rows, peaks: [peak], exit, twoFactorChecked, profileDir };
}

function printProfile(profileDir) {
  const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) {
    console.error(`No .cpuprofile in ${profileDir}: did the service exit cleanly?`);
    return;
  }
  const path = join(profileDir, file);
  const { totalMs, top } = topSelfTime(path, 15);
  console.log(`\nTop 15 functions by self time (service, whole run: ${(totalMs / 1000).toFixed(1)} s sampled)`);
  console.log(
    terminalLines(
      top.map(({ name, location, ms, share }) => [`${(share * 100).toFixed(1)} %`, `${Math.round(ms)} ms`, name, location]),
    ),
  );
  console.log(`Profile: ${relative(process.cwd(), path)} (open it in Chrome DevTools › Performance, or speedscope)`);
}

const terminalLines = (lines) => {
  const widths = lines[0].map((_, i) => Math.max(...lines.map((line) => line[i].length)));
  return lines.map((line) => line.map((cell, i) => cell.padEnd(widths[i])).join('  ')).join('\n');
};

// ---------------------------------------------------------------------------------------------
// The run.

/**
 * The highest e could reach against f on this machine if the service spent CPU on nothing but the
 * one argon2id verification of each flow: PostgreSQL and the load side (load generator, SMTP
 * server) still take their share of the same cores. Null unless both rows have their figures.
 */
function flowCeiling(rows) {
  const flow = rows.find((row) => row.id === 'e');
  const argon2 = rows.find((row) => row.id === 'f');
  const parts = [argon2?.cpuMsPerOp, flow?.postgresCpuMsPerOp, flow?.loadCpuMsPerOp];
  if (parts.some((part) => typeof part !== 'number')) return null;
  const [verify, postgres, load] = parts;
  return { ratio: verify / (verify + postgres + load), verify, postgres, load, service: flow.cpuMsPerOp - verify };
}

function notes(twoFactorChecked, rows) {
  const ceiling = flowCeiling(rows);
  const ms = (value) => value.toFixed(1);
  return [
    'a: the floor: bare Fastify (the same copy the service uses) and `pg`, `GET /me` hashes the token (SHA-256) and runs one named prepared statement, an index lookup; a process and database of its own.',
    'n: the Nest floor: the same `GET /me`, lookup and answer as a, written as the least Nest application can be (one module, one controller, one guard doing the lookup) on the Nest and Fastify the service runs: what Nest itself costs on top of a.',
    'b: the service’s `GET /api/v1/me` with the X-User-Id/X-Auth-Token of a session logged in with the emailed code.',
    `c: \`${TWO_FACTOR_ROUTE.method} ${TWO_FACTOR_ROUTE.path}\` with a new \`${TWO_FACTOR_ROUTE.uniqueField}\` in every request, inside the remember window of the admin's login: the session lookup, the remembered-factor check, then an INSERT of the new token (every second-factor route of Rocket.Chat's API writes). ` +
      (twoFactorChecked
        ? 'The same request from a session without a remembered second factor answers totp-required, so the remembered-factor check is on this path.'
        : 'The same request from a session that never passed a second factor succeeds: this row does not measure the remembered-factor check (TWO_FACTOR_ROUTE in bench/run.mjs names the route).'),
    'd: surface 2’s `GET /api/auth/status` with `Authorization: Bearer` (access token from /api/auth/login + /api/auth/2fa/login with the mailed code).',
    `e: ${settings.virtualUsers} distinct users, each looping password login → code read from the mail the service sent to the bench’s SMTP server → twoFactorChallenges.verifyChallenge; flows completed per second; p50/p99 per flow. Each flow costs one argon2id verification, hence the comparison with f.`,
    'f: argon2id verifications per second with the service’s parameters, as many in parallel as the libuv pool has threads, in a process of its own: the ceiling of e on this machine.',
    ...(ceiling
      ? [
          `e’s ceiling on this machine: ${Math.round(ceiling.ratio * 100)} % of f, if the service spent CPU on nothing but each flow’s argon2id verification ` +
            `(${ms(ceiling.verify)} ms, f’s CPU per verification): PostgreSQL (${ms(ceiling.postgres)} ms per flow) and the load side ` +
            `(${ms(ceiling.load)} ms per flow) take the rest of the same cores. The service spent ${ms(ceiling.service)} ms per flow beyond the verification.`,
        ]
      : []),
  ];
}

async function main() {
  // Taken before the bench adds its own load; the build just before (and a bench run just
  // before, the 1-minute average lags) count in it, so it is recorded, not judged.
  const loadAverage = loadavg();
  const dataDir = mkdtempSync(join(tmpdir(), 'tfa-bench-'));
  // As root, the embedded PostgreSQL runs as `postgres`, which must reach the cluster under it.
  chmodSync(dataDir, 0o755);
  atEnd(() => rmSync(dataDir, { recursive: true, force: true }));

  step(process.env.DATABASE_URL ? 'PostgreSQL from DATABASE_URL' : 'starting the embedded PostgreSQL');
  const postgres = await startBenchPostgres(dataDir);
  atEnd(() => postgres.stop());
  for (const name of Object.values(DATABASES)) {
    await recreateDatabase(postgres.adminUrl, name);
    if (postgres.drop) atEnd(() => dropDatabase(postgres.adminUrl, name));
  }
  await seedFloorDatabase(postgres.urlFor(DATABASES.floor));
  const machine = describeMachine({
    postgresVersion: await serverVersion(postgres.adminUrl),
    embedded: postgres.embedded,
    loadAverage,
  });

  const mail = await startMailSink();
  atEnd(() => mail.stop());

  const floor = await runFloors(postgres);
  const service = ['b', 'c', 'd', 'e'].some(runs) ? await runService(postgres, mail, dataDir) : { rows: [], peaks: [] };
  const argon2 = runs('f') ? [await argon2Scenario()] : [];

  const rows = withRatios([...floor.rows, ...service.rows, ...argon2]);
  // The argon2 process lives only for its scenario: its row already says its peak.
  const lifetimePeaks = [...floor.peaks, ...service.peaks];
  const failed = rows.filter((row) => row.errors > 0 || row.non2xx > 0);
  const at = new Date().toISOString();
  const report = {
    at,
    valid: failed.length === 0,
    profile: flags.profile,
    settings,
    machine,
    rows,
    lifetimePeaks,
    serviceExit: service.exit,
    flowCeiling: flowCeiling(rows),
  };

  console.log(`\n${at} · ${machine.cpu} · ${machine.memory} · Node ${machine.node} · PostgreSQL ${machine.postgres}`);
  console.log(
    `${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s per scenario${flags.profile ? ' · service under --cpu-prof: figures are not comparable' : ''}\n`,
  );
  console.log(terminalTable(rows));
  const ceiling = flowCeiling(rows);
  if (ceiling)
    console.log(`\ne's ceiling here (the service spending CPU on argon2id alone): ${Math.round(ceiling.ratio * 100)} % of f`);
  if (service.profileDir) printProfile(service.profileDir);

  // A profiled run's figures are skewed by the profiler: they never replace the latest plain run's.
  const resultFile = flags.profile ? 'latest-profile.json' : only ? 'latest-partial.json' : 'latest.json';
  writeJson(join(ROOT, 'bench/results', resultFile), report);
  if (failed.length) {
    process.exitCode = 1;
    console.error(`\nINVALID RUN: requests failed in ${failed.map((row) => row.id).join(', ')}; the figures above mean nothing.`);
    for (const row of failed) for (const sample of row.failureSamples ?? []) console.error(`  ${row.id}: ${sample}`);
    for (const row of failed) if (row.statusCodes) console.error(`  ${row.id}: status codes ${JSON.stringify(row.statusCodes)}`);
    console.error('docs/benchmarks.md was left as it was.');
  } else if (!flags.profile && !only) {
    writeMarkdown(join(ROOT, 'docs/benchmarks.md'), { ...report, notes: notes(service.twoFactorChecked, rows) });
    console.log('\nWritten: docs/benchmarks.md, bench/results/latest.json');
  }
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  console.error(`\nThe bench failed: ${error.stack ?? error}`);
} finally {
  await cleanUp();
}
