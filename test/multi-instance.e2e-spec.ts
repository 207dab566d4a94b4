import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Credentials, uniqueName } from './helpers/api.js';
import { findOrStartRedis } from './helpers/redis-server.js';
import { S2Api } from './helpers/s2.js';
import { buildService, startService, type ServiceProcess } from './helpers/service-process.js';
import { type ReceivedMail, SmtpSink } from './helpers/smtp-sink.js';
import { createTestDatabase } from './helpers/test-app.js';

const BUILD_DIR = '.test-build-multi-instance';
const PASSWORD = 'correct horse battery';
const BULK = 100;
/** Each instance signs its mail with an address of its own, so the sink can tell who delivered what. */
const FROM = { a: 'instance-a@example.com', b: 'instance-b@example.com' } as const;

const redis = await findOrStartRedis();
if (redis.url === null) console.warn(`multi-instance: the shared rate-limit case is skipped: ${redis.reason}`);

const messageId = (mail: ReceivedMail): string | undefined => /^Message-ID:\s*(\S+)/im.exec(mail.raw)?.[1];

/**
 * Two instances of the built service, as behind a load balancer: one PostgreSQL database, one
 * Redis (when there is one; every case but the shared rate limit runs on PostgreSQL alone) and
 * one SMTP sink for both. A client may land on either instance at every step.
 */
describe('two instances behave as one', () => {
  const sink = new SmtpSink();
  const dataDir = mkdtempSync(join(tmpdir(), 'tfa-multi-'));
  let a: ServiceProcess;
  let b: ServiceProcess;
  let apiA: Api;
  let apiB: Api;
  let db: pg.Client;

  beforeAll(async () => {
    await Promise.all([buildService(BUILD_DIR), sink.start()]);
    const databaseUrl = await createTestDatabase();
    const common = {
      DATABASE_URL: databaseUrl,
      SMTP_URL: sink.url,
      // One secret: codes, tokens and queued mail made by one instance are read by the other.
      APP_SECRET: randomBytes(32).toString('hex'),
      ...(redis.url ? { REDIS_URL: redis.url } : {}),
      // Counters of this run only, whoever else uses the server.
      REDIS_KEY_PREFIX: `tfa-test-${randomBytes(6).toString('hex')}:`,
      RATE_LIMIT_PER_MINUTE: '100000',
      RATE_LIMIT_AUTHENTICATED_PER_MINUTE: '100000',
      // The limits the shared-limit case reaches; no other case touches them.
      RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE: '3',
      RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '3',
      EMAIL_CODE_RESEND_AFTER_SECONDS: '0',
      MAIL_WORKER_INTERVAL_MS: '100',
      RETENTION_INTERVAL_SECONDS: '0',
    };
    // One after the other: the first applies the migrations (the second would wait on their lock).
    a = await startService(BUILD_DIR, { ...common, DATA_DIR: join(dataDir, 'a'), MAIL_FROM: `"Instance A" <${FROM.a}>` });
    b = await startService(BUILD_DIR, { ...common, DATA_DIR: join(dataDir, 'b'), MAIL_FROM: `"Instance B" <${FROM.b}>` });
    apiA = new Api(a.base);
    apiB = new Api(b.base);
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  }, 180_000);

  afterAll(async () => {
    await db?.end();
    await Promise.all([a?.kill(), b?.kill()]);
    await sink.stop();
    if (redis.url !== null) await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(BUILD_DIR, { recursive: true, force: true });
  });

  /** Registered on one instance, the address verified through the other. */
  async function registerVerified(prefix: string) {
    const username = uniqueName(prefix);
    const email = `${username}@example.com`;
    const registered = await apiA.post('/api/v1/users.register', { username, email, pass: PASSWORD, name: `Test ${username}` });
    expect(registered.status).toBe(200);
    const link = new URL(await sink.linkFor(email));
    await expect(apiB.post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') })).resolves.toMatchObject({
      status: 200,
    });
    return { username, email, userId: registered.body.user._id as string };
  }

  /** A v1 login started on `api`: totp-required, and the code it mailed. */
  async function startLogin(api: Api, user: { username: string; email: string }) {
    const before = sink.messages.length;
    const started = await api.post('/api/v1/login', { user: user.username, password: PASSWORD });
    expect(started.status).toBe(401);
    expect(started.body).toMatchObject({ error: 'totp-required', details: { codeGenerated: true } });
    return { code: await sink.codeFor(user.email, { after: before }), challengeId: started.body.details.challengeId as string };
  }

  const credentialsOf = (body: { data: { userId: string; authToken: string } }): Credentials => ({
    userId: body.data.userId,
    authToken: body.data.authToken,
  });

  it('finishes on B a v1 login started on A, with the code A mailed (login or challenge)', async () => {
    const user = await registerVerified('mi-v1');
    const { code } = await startLogin(apiA, user);
    const finished = await apiB.post('/api/v1/login', { user: user.username, password: PASSWORD, code });
    expect(finished.status).toBe(200);
    const auth = credentialsOf(finished.body);
    // The session works on both.
    for (const api of [apiA, apiB]) {
      await expect(api.get('/api/v1/me', { auth })).resolves.toMatchObject({ status: 200, body: { _id: user.userId } });
    }

    const other = await startLogin(apiB, user);
    const verified = await apiA.post('/api/v1/twoFactorChallenges.verifyChallenge', {
      challengeId: other.challengeId,
      code: other.code,
    });
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ success: true, userId: user.userId, loginToken: expect.any(String) });
  });

  it('finishes on B an s2 login started on A', async () => {
    const user = await registerVerified('mi-s2');
    const onA = new S2Api(a.base, 'headers');
    const onB = new S2Api(b.base, 'headers');
    const before = sink.messages.length;
    const started = await onA.post('/api/auth/login', { email: user.email, password: PASSWORD });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ twoFactorRequired: true, accessToken: null });
    const code = await sink.codeFor(user.email, { after: before });
    const finished = await onB.post(
      '/api/auth/2fa/login',
      { email: code.replace('-', '') },
      { tokens: { twoFactor: started.body.twoFactorAuthenticationToken } },
    );
    expect(finished.status).toBe(200);
    const access = finished.body.accessToken as string;
    for (const api of [onA, onB]) {
      await expect(api.get('/api/auth/status', { tokens: { access } })).resolves.toMatchObject({
        status: 200,
        body: { authenticated: true, twoFactorMethods: ['email'] },
      });
    }
  });

  it('refuses on B a code used on A; of two parallel uses, one on each, exactly one succeeds', async () => {
    const user = await registerVerified('mi-once');
    const { code } = await startLogin(apiA, user);
    await expect(apiA.post('/api/v1/login', { user: user.username, password: PASSWORD, code })).resolves.toMatchObject({
      status: 200,
    });
    const reused = await apiB.post('/api/v1/login', { user: user.username, password: PASSWORD, code });
    expect(reused.status).toBe(401);
    expect(reused.body).toMatchObject({ status: 'error', error: 'totp-invalid' });

    for (let round = 0; round < 4; round++) {
      const racer = await registerVerified(`mi-race${round}`);
      const started = await startLogin(round % 2 ? apiA : apiB, racer);
      const answers = await Promise.all(
        [apiA, apiB].map((api) => api.post('/api/v1/login', { user: racer.username, password: PASSWORD, code: started.code })),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401]);
      const loser = answers.find((answer) => answer.status === 401)!;
      expect(loser.body).toMatchObject({ error: 'totp-invalid' });
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`, [racer.userId]);
      expect(rows[0].n).toBe(1);
    }
  });

  it.skipIf(!redis.url)('holds on B a rate limit reached through A (counters in Redis)', async () => {
    // twoFactorChallenges.sendEmailCode: RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE=3 per caller, whichever instance answers.
    const send = (api: Api) => api.post('/api/v1/twoFactorChallenges.sendEmailCode', { challengeId: 'f'.repeat(64) });
    const statuses = [(await send(apiA)).status, (await send(apiB)).status, (await send(apiA)).status];
    expect(statuses).not.toContain(429);
    const limited = await send(apiB);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatch(/\[error-too-many-requests\]$/);
    await expect(send(apiA)).resolves.toMatchObject({ status: 429 });

    // Failed authentications (RATE_LIMIT_FAILED_AUTH_PER_MINUTE=3 per address), counted across instances too.
    const wrong = { userId: 'nobody', authToken: 'not-a-token' };
    const failures = [apiA, apiB, apiA].map((api) => api.get('/api/v1/me', { auth: wrong }));
    expect((await Promise.all(failures)).map((answer) => answer.status)).toEqual([401, 401, 401]);
    await expect(apiB.get('/api/v1/me', { auth: wrong })).resolves.toMatchObject({ status: 429 });
  });

  it(`delivers ${BULK} messages queued through both instances exactly once, by both outbox workers`, async () => {
    // Each registration mails a confirmation at once; the sink turns every attempt away (451)
    // until all 100 wait in the outbox, then takes mail again: the workers of both instances
    // deliver them.
    const users = Array.from({ length: BULK }, () => uniqueName('bulk'));
    const addresses = users.map((username) => `${username}@example.com`);
    const outbox = async () =>
      (
        await db.query<{ status: string; attempts: number }>(
          `SELECT status, attempts FROM mail_outbox WHERE "to" && $1::text[]`,
          [addresses],
        )
      ).rows;
    const before = sink.messages.length;
    sink.failNext(Number.MAX_SAFE_INTEGER);
    for (let first = 0; first < BULK; first += 10) {
      const answers = await Promise.all(
        users.slice(first, first + 10).map((username, index) =>
          (index % 2 ? apiA : apiB).post('/api/v1/users.register', {
            username,
            email: `${username}@example.com`,
            pass: PASSWORD,
            name: `Bulk ${username}`,
          }),
        ),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(answers.length).fill(200));
    }
    const queued = Date.now() + 20_000;
    for (;;) {
      const rows = await outbox();
      if (rows.length === BULK && rows.every((row) => row.status === 'pending' && row.attempts >= 1)) break;
      if (Date.now() > queued) throw new Error('the first delivery attempts did not all end');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(sink.messages.length).toBe(before);
    sink.failNext(0);
    // Due again within the next 2 s (instead of after their backoff), in no particular order.
    await db.query(`UPDATE mail_outbox SET next_attempt_at = now() + random() * interval '2 seconds' WHERE "to" && $1::text[]`, [
      addresses,
    ]);

    const deadline = Date.now() + 30_000;
    while ((await outbox()).some((row) => row.status !== 'sent') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // A moment for a second delivery of anything, were there one.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const rows = await outbox();
    expect(rows).toHaveLength(BULK);
    expect(rows.filter((row) => row.status !== 'sent')).toEqual([]);
    // Every one was first turned away, then taken up by a worker.
    expect(rows.every((row) => row.attempts >= 2)).toBe(true);

    const received = sink.messages.slice(before).filter((mail) => mail.to.some((to) => addresses.includes(to)));
    const perAddress = new Map(addresses.map((address) => [address, 0]));
    for (const mail of received) for (const to of mail.to) perAddress.set(to, (perAddress.get(to) ?? 0) + 1);
    expect([...perAddress.values()].filter((count) => count !== 1)).toEqual([]);
    expect(received).toHaveLength(BULK);
    expect(new Set(received.map(messageId)).size).toBe(BULK);
    // Both workers took part.
    const byInstance = {
      a: received.filter((mail) => mail.from === FROM.a).length,
      b: received.filter((mail) => mail.from === FROM.b).length,
    };
    expect(byInstance.a + byInstance.b).toBe(BULK);
    expect(byInstance.a).toBeGreaterThan(0);
    expect(byInstance.b).toBeGreaterThan(0);
  });
});
