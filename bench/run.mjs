// npm run bench: requests/s and latency of the hot paths, measured with autocannon in this
// process against the built service running in a separate process (embedded PostgreSQL unless
// DATABASE_URL is set; mail written to the outbox folder, read back for the login code).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import PostalMime from 'postal-mime';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = Number(process.env.BENCH_DURATION_SECONDS ?? 10);
const USER_AGENT = 'tfa-bench/1.0';

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const dataDir = mkdtempSync(join(tmpdir(), 'tfa-bench-'));
chmodSync(dataDir, 0o755);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const admin = { username: 'benchadmin', email: 'bench@example.com', password: 'bench password 123' };

const server = spawn(process.execPath, ['dist/src/main.js'], {
  env: {
    ...process.env,
    NODE_ENV: 'production',
    APP_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
    DATA_DIR: dataDir,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '1000000',
    RATE_LIMIT_AUTHENTICATED_PER_MINUTE: '1000000',
    ADMIN_USERNAME: admin.username,
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const stop = async () => {
  // Let the last in-flight requests of the load generator finish before the server goes down.
  await new Promise((r) => setTimeout(r, 1000));
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  rmSync(dataDir, { recursive: true, force: true });
};

try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error('service did not start');
    await new Promise((r) => setTimeout(r, 100));
  }

  const post = (path, body, headers = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));

  // Login with the emailed second factor: the new session is 2FA-remembered for this client.
  const first = await post('/api/v1/login', { user: admin.username, password: admin.password });
  if (first.body.error !== 'totp-required') throw new Error(`unexpected login answer ${JSON.stringify(first.body)}`);
  const mailDir = join(dataDir, 'mail');
  mkdirSync(mailDir, { recursive: true });
  const eml = readdirSync(mailDir).sort().at(-1);
  const parsed = await PostalMime.parse(readFileSync(join(mailDir, eml)));
  const code = /\b(\d{3}-\d{3})\b/.exec(parsed.text)[1];
  const login = await post('/api/v1/login', { user: admin.username, password: admin.password, code });
  if (login.status !== 200) throw new Error(`login with code failed ${JSON.stringify(login.body)}`);
  const auth = { 'x-user-id': login.body.data.userId, 'x-auth-token': login.body.data.authToken, 'user-agent': USER_AGENT };

  const run = (title, options) =>
    new Promise((resolve, reject) => {
      autocannon({ url: `${base}${options.path}`, connections: CONNECTIONS, duration: DURATION, ...options }, (error, result) =>
        error ? reject(error) : resolve({ title, result }),
      );
    });

  const results = [];
  results.push(await run('GET /api/v1/me (authenticated)', { path: '/api/v1/me', headers: auth }));
  results.push(
    await run('POST users.updateOwnBasicInfo (@Requires2FA, remembered)', {
      path: '/api/v1/users.updateOwnBasicInfo',
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { name: 'Bench Admin' } }),
    }),
  );

  const rows = results.map(({ title, result }) => ({
    scenario: title,
    'req/s (avg)': Math.round(result.requests.average),
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    '2xx': result['2xx'],
    'non-2xx': result.non2xx,
    errors: result.errors,
  }));
  console.log(`\n${CONNECTIONS} connections, ${DURATION} s each, Node ${process.version}`);
  console.table(rows);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/latest.json',
    JSON.stringify({ at: new Date().toISOString(), connections: CONNECTIONS, duration: DURATION, rows }, null, 2),
  );
  if (rows.some((row) => row['non-2xx'] > 0 || row.errors > 0)) {
    process.exitCode = 1;
    console.error('Some requests failed: the figures above are not valid.');
  }
} finally {
  await stop();
}
