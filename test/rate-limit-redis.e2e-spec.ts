import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { findOrStartRedis } from './helpers/redis-server.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// TEST_REDIS_URL (or the local Redis), else a redis-server of the test's own: the README's test
// command must pass on machines without a Redis running.
const redis = await findOrStartRedis();
if (redis.url === null) console.warn(`Skipping the shared rate-limit test: ${redis.reason}`);
const redisUrl = redis.url ?? '';

describe.runIf(redis.url)(`rate limits shared through Redis (${redisUrl})`, () => {
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    // Two instances of the service, as behind a load balancer, sharing one Redis.
    const env = {
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `tfa-test-${randomBytes(4).toString('hex')}:`,
      RATE_LIMIT_PER_MINUTE: '3',
    };
    first = await createTestApp(env);
    second = await createTestApp(env);
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    if (redis.url !== null) await redis.stop();
  });

  it('counts requests to either instance against one limit', async () => {
    const a = new Api(first.baseUrl);
    const b = new Api(second.baseUrl);
    const body = { emailOrUsername: 'nobody@example.com' };
    const statuses = [
      (await a.post('/api/v1/users.2fa.sendEmailCode', body)).status,
      (await b.post('/api/v1/users.2fa.sendEmailCode', body)).status,
      (await a.post('/api/v1/users.2fa.sendEmailCode', body)).status,
    ];
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await b.post('/api/v1/users.2fa.sendEmailCode', body);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatch(
      /^Error, too many requests\. Please slow down\. You must wait \d+ seconds before trying this endpoint again\. \[error-too-many-requests\]$/,
    );
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
  });
});
