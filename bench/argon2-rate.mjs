// The ceiling of password logins: argon2id verifications per second on this machine, with the
// service's parameters (src/auth/password.service.ts), as many at once as the libuv pool has
// threads (argon2 runs there). In a process of its own. Options as JSON in argv[2].
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import argon2 from 'argon2';
import { percentile } from './lib/stats.mjs';

const { durationSeconds, warmupSeconds } = JSON.parse(process.argv[2]);
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
// run.mjs sets the pool size (as start:prod does) in the environment the service gets too.
const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;

// The service stores argon2id of the password's hex SHA-256: a 64-character hex string.
const secret = createHash('sha256').update('bench password 123').digest('hex');
const hash = await argon2.hash(secret, OPTIONS);

async function loop(until, latencies) {
  let failures = 0;
  while (performance.now() < until) {
    const started = performance.now();
    if (!(await argon2.verify(hash, secret))) failures += 1;
    if (performance.now() <= until) latencies?.push(performance.now() - started);
  }
  return failures;
}

const run = async (seconds, latencies) => {
  const until = performance.now() + seconds * 1000;
  const failures = await Promise.all(Array.from({ length: threads }, () => loop(until, latencies)));
  return failures.reduce((a, b) => a + b, 0);
};

const warmupFailures = await run(warmupSeconds);
const latencies = [];
process.send({ type: 'measuring' });
// This process is its own server: it counts its own CPU time (all threads), as it is gone before it could be read.
const cpuAtStart = process.cpuUsage();
const failures = await run(durationSeconds, latencies);
const { user, system } = process.cpuUsage(cpuAtStart);

process.send(
  {
    type: 'result',
    result: {
      threads,
      requests: latencies.length,
      durationSeconds,
      rate: latencies.length / durationSeconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      errors: failures + warmupFailures,
      non2xx: 0,
      cpuMsPerOp: latencies.length ? (user + system) / 1000 / latencies.length : null,
    },
  },
  () => process.exit(0),
);
