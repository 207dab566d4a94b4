import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { addSeconds } from '../src/common/clock.js';
import { Api } from './helpers/api.js';
import { findOrStartRedis } from './helpers/redis-server.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const READY = { status: 'ok', database: 'up', migrations: 'applied', redis: 'not-configured', outbox: 'ok' };

describe('GET /health/live and GET /health/ready', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    // A tight limit, to show the probes are never counted against it.
    t = await createTestApp({ RATE_LIMIT_PER_MINUTE: '2' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());
  afterEach(async () => {
    vi.restoreAllMocks();
    await t.db.query(`DELETE FROM mail_outbox`);
  });

  const queueMail = async (row: { status: string; nextAttemptAt: Date; leaseUntil?: Date }): Promise<string> => {
    const [inserted] = (await t.db.query(
      `INSERT INTO mail_outbox ("to", template, locale, status, next_attempt_at, lease_until, created_at)
       VALUES ('{someone@example.com}', 'email-code', 'en', $1, $2, $3, $2) RETURNING id`,
      [row.status, row.nextAttemptAt, row.leaseUntil ?? null],
    )) as Array<{ id: string }>;
    return inserted!.id;
  };

  it('GET /health answers as before', async () => {
    const res = await api.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', database: 'up' });
  });

  it('live: 200 {status:"ok"}, without asking the database', async () => {
    const query = vi.spyOn(t.app.get(DataSource), 'query');
    const res = await api.get('/health/live');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(query).not.toHaveBeenCalled();
  });

  it('ready: 200 with every part named when all is well', async () => {
    const res = await api.get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(READY);
  });

  it('ready: 503 outbox "stuck" once a due message has waited more than OUTBOX_STUCK_SECONDS (900)', async () => {
    const id = await queueMail({ status: 'pending', nextAttemptAt: t.clock.now() });
    // Due, but not for long: a worker will take it.
    expect((await api.get('/health/ready')).body).toEqual(READY);
    t.clock.advance(890);
    expect((await api.get('/health/ready')).status).toBe(200);
    t.clock.advance(20);
    const stuck = await api.get('/health/ready');
    expect(stuck.status).toBe(503);
    expect(stuck.body).toEqual({ ...READY, status: 'error', outbox: 'stuck' });

    // Delivered at last: ready again. Liveness never depended on it.
    await t.db.query(`UPDATE mail_outbox SET status = 'sent', sent_at = $2 WHERE id = $1`, [id, t.clock.now()]);
    expect((await api.get('/health/ready')).status).toBe(200);
    expect((await api.get('/health/live')).status).toBe(200);
  });

  it('ready: a message retried later, or one being sent, is not stuck; a sender that died long ago is', async () => {
    const now = t.clock.now();
    await queueMail({ status: 'pending', nextAttemptAt: addSeconds(now, 3600) });
    await queueMail({ status: 'sending', nextAttemptAt: addSeconds(now, -3600), leaseUntil: addSeconds(now, 30) });
    await queueMail({ status: 'sent', nextAttemptAt: addSeconds(now, -86_400) });
    await queueMail({ status: 'failed', nextAttemptAt: addSeconds(now, -86_400) });
    expect((await api.get('/health/ready')).body).toEqual(READY);

    await queueMail({ status: 'sending', nextAttemptAt: addSeconds(now, -3600), leaseUntil: addSeconds(now, -901) });
    const res = await api.get('/health/ready');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'error', outbox: 'stuck' });
  });

  it('ready: 503 migrations "pending" while one of migrations/index.ts is not recorded as applied', async () => {
    const [last] = (await t.db.query(`SELECT * FROM typeorm_migrations ORDER BY id DESC LIMIT 1`)) as Array<{
      id: number;
      timestamp: string;
      name: string;
    }>;
    await t.db.query(`DELETE FROM typeorm_migrations WHERE id = $1`, [last!.id]);
    try {
      const res = await api.get('/health/ready');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ ...READY, status: 'error', migrations: 'pending' });
    } finally {
      await t.db.query(`INSERT INTO typeorm_migrations (id, timestamp, name) VALUES ($1, $2, $3)`, [
        last!.id,
        last!.timestamp,
        last!.name,
      ]);
    }
    expect((await api.get('/health/ready')).status).toBe(200);
  });

  it('are in the OpenAPI document, beside GET /health', async () => {
    const doc = (await api.get('/api/openapi.json')).body;
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/health'))).toEqual([
      '/health',
      '/health/live',
      '/health/ready',
    ]);
    expect(doc.paths['/health/ready'].get.responses['200'].content['application/json'].example).toEqual(READY);
    // 400: the query-string refusal every route shares (health-openapi.ts: ApiQueryRefused).
    expect(Object.keys(doc.paths['/health/ready'].get.responses).sort()).toEqual(['200', '400', '503']);
  });

  it('is never rate limited', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      statuses.push((await api.get('/health/live')).status, (await api.get('/health/ready')).status);
    }
    expect(statuses).toEqual(Array(10).fill(200));
    // The limit itself is in force (RATE_LIMIT_PER_MINUTE=2) on an ordinary unauthenticated route.
    const body = { emailOrUsername: 'nobody@example.com' };
    const limited = [];
    for (let i = 0; i < 3; i += 1) limited.push((await api.post('/api/v1/users.2fa.sendEmailCode', body)).status);
    expect(limited).toEqual([200, 200, 429]);
  });
});

describe('GET /health/ready with the database down', () => {
  it('ready: 503 database "down" (the rest unknown); live: still 200', async () => {
    const t = await createTestApp();
    try {
      // The service's own pool, as if PostgreSQL had gone away.
      await t.db.destroy();
      const api = new Api(t.baseUrl);
      const ready = await api.get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({
        status: 'error',
        database: 'down',
        migrations: 'unknown',
        redis: 'not-configured',
        outbox: 'unknown',
      });
      const live = await api.get('/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: 'ok' });
    } finally {
      await t.close();
    }
  });
});

// TEST_REDIS_URL (or the local Redis), else a redis-server of the test's own (see helpers/redis-server.ts).
const redis = await findOrStartRedis();
if (redis.url === null) console.warn(`Skipping the Redis-up readiness case: ${redis.reason}`);
const redisUrl = redis.url ?? '';
afterAll(async () => {
  if (redis.url !== null) await redis.stop();
});

describe('GET /health/ready with Redis configured', () => {
  it('200 "degraded", redis "down", when REDIS_URL does not answer, at once', async () => {
    const t = await createTestApp({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const api = new Api(t.baseUrl);
      const started = Date.now();
      const ready = await api.get('/health/ready');
      expect(Date.now() - started).toBeLessThan(2500);
      // Still ready: the instance serves without Redis, and every instance shares that Redis.
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ ...READY, status: 'degraded', redis: 'down' });
      // Asked again (the probe's connection keeps retrying in the background): still down, still quick.
      expect((await api.get('/health/ready')).body).toMatchObject({ redis: 'down' });
      expect((await api.get('/health/live')).status).toBe(200);
      expect((await api.get('/health')).body).toEqual({ status: 'ok', database: 'up' });
    } finally {
      await t.close();
    }
  });

  it.runIf(redis.url)(`200 redis "up" when REDIS_URL answers (${redisUrl})`, async () => {
    const t = await createTestApp({ REDIS_URL: redisUrl });
    try {
      const ready = await new Api(t.baseUrl).get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ ...READY, redis: 'up' });
    } finally {
      await t.close();
    }
  });
});
