import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { findFreePort } from '../../src/database/embedded-postgres.js';

/** Whether a Redis answers PING at `url` within half a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export type TestRedis = { url: string; stop(): Promise<void> } | { url: null; reason: string };

/**
 * A Redis for a test file: TEST_REDIS_URL (or redis://127.0.0.1:6379) when it answers, else a
 * `redis-server` of its own on a free port (no persistence) when the binary is on PATH, else none,
 * with the reason. Tests share a server through REDIS_KEY_PREFIX, unique per test run.
 */
export async function findOrStartRedis(): Promise<TestRedis> {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) return { url, stop: async () => undefined };
  const port = await findFreePort();
  let child: ChildProcess;
  try {
    child = await new Promise<ChildProcess>((resolve, reject) => {
      const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      started.once('error', reject);
      started.once('spawn', () => resolve(started));
    });
  } catch (error) {
    return { url: null, reason: `no Redis at ${url} and no redis-server on PATH (${(error as Error).message})` };
  }
  const own = `redis://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await redisAnswers(own)) return { url: own, stop };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  return { url: null, reason: `no Redis at ${url}, and redis-server on port ${port} did not answer` };
}
