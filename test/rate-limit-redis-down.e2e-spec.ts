import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Credentials, uniqueName } from './helpers/api.js';
import { S2Api } from './helpers/s2.js';
import { buildService, startService, type ServiceProcess } from './helpers/service-process.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { createTestDatabase } from './helpers/test-app.js';

const BUILD_DIR = '.test-build-redis-down';
const PASSWORD = 'correct horse battery';
/** Nothing listens on port 1: every connection is refused at once. */
const DEAD_REDIS = 'redis://127.0.0.1:1';
const WARNING = 'Redis unreachable';

const V1_UNAVAILABLE = {
  success: false,
  error: 'Codes cannot be checked right now; try again in a few seconds [error-service-unavailable]',
  errorType: 'error-service-unavailable',
  details: { retryAfterSeconds: 5 },
};

const s2Unavailable = (path: string) => ({
  timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
  status: 503,
  code: 'SERVICE_UNAVAILABLE',
  error: 'ServiceUnavailable',
  message: 'Codes and passwords cannot be checked right now; try again in a few seconds.',
  path,
});

const occurrences = (text: string, needle: string): number => text.split(needle).length - 1;

/**
 * REDIS_URL set, Redis unreachable: two built instances on one database, `healthy` without
 * REDIS_URL (to prepare logins and prove codes still work) and `degraded` with REDIS_URL pointing
 * where nothing listens. Code checks on `degraded` answer 503 and change nothing; its other routes
 * work, limited per process; it says so once in its log.
 */
describe('REDIS_URL set but Redis unreachable', () => {
  const sink = new SmtpSink();
  const dataDir = mkdtempSync(join(tmpdir(), 'tfa-redis-down-'));
  let healthy: ServiceProcess;
  let degraded: ServiceProcess;
  let db: pg.Client;
  let user: { username: string; email: string; userId: string };
  let auth: Credentials;

  beforeAll(async () => {
    await Promise.all([buildService(BUILD_DIR), sink.start()]);
    const databaseUrl = await createTestDatabase();
    const common = {
      DATABASE_URL: databaseUrl,
      SMTP_URL: sink.url,
      APP_SECRET: randomBytes(32).toString('hex'),
      RETENTION_INTERVAL_SECONDS: '0',
      RATE_LIMIT_AUTHENTICATED_PER_MINUTE: '1000',
    };
    healthy = await startService(BUILD_DIR, { ...common, DATA_DIR: join(dataDir, 'healthy'), RATE_LIMIT_PER_MINUTE: '1000' });
    degraded = await startService(BUILD_DIR, {
      ...common,
      DATA_DIR: join(dataDir, 'degraded'),
      REDIS_URL: DEAD_REDIS,
      REDIS_KEY_PREFIX: `tfa-test-${randomBytes(4).toString('hex')}:`,
      RATE_LIMIT_PER_MINUTE: '3',
    });
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();

    // A user with email 2FA (on once the address is verified), registered through the healthy instance.
    const api = new Api(healthy.base);
    const username = uniqueName('down');
    const email = `${username}@example.com`;
    const registered = await api.post('/api/v1/users.register', { username, email, pass: PASSWORD, name: 'Down Test' });
    expect(registered.status).toBe(200);
    const link = new URL(await sink.linkFor(email));
    await expect(api.post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') })).resolves.toMatchObject({
      status: 200,
    });
    user = { username, email, userId: registered.body.user._id };
  }, 180_000);

  afterAll(async () => {
    await db?.end();
    await Promise.all([healthy?.kill(), degraded?.kill()]);
    await sink.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(BUILD_DIR, { recursive: true, force: true });
  });

  /** Everything a code check could change: codes, attempt counters, lockout, challenges, audit, sessions, mail. */
  async function secondFactorState(): Promise<unknown> {
    const { rows } = await db.query(
      `SELECT json_build_object(
         'codes', (SELECT json_agg(json_build_object('id', id, 'consumed', consumed_at, 'live', expires_at > now()) ORDER BY id)
                     FROM email_codes WHERE user_id = $1),
         'attempts', (SELECT json_agg(json_build_object('purpose', purpose, 'failures', failures) ORDER BY purpose)
                        FROM code_attempts WHERE user_id = $1),
         'lockout', (SELECT json_agg(json_build_object('failures', consecutive_failures, 'until', locked_until))
                       FROM second_factor_failures WHERE user_id = $1),
         'challenges', (SELECT json_agg(json_build_object('id', id, 'failed', failed_attempts, 'completed', completed_at) ORDER BY id)
                          FROM challenges WHERE user_id = $1),
         'audit', (SELECT count(*) FROM audit_events WHERE user_id = $1),
         'sessions', (SELECT count(*) FROM sessions WHERE user_id = $1),
         'methods', (SELECT json_agg(json_build_object('method', method, 'status', status) ORDER BY method)
                       FROM two_factor_methods WHERE user_id = $1),
         'outbox', (SELECT count(*) FROM mail_outbox)
       ) AS state`,
      [user.userId],
    );
    return rows[0].state;
  }

  it('answers 503 in each surface’s format on code checks, checks and counts nothing, and the code still works', async () => {
    const healthyApi = new Api(healthy.base);
    const degradedApi = new Api(degraded.base);
    const login = { user: user.username, password: PASSWORD };

    // A login started on the healthy instance: totp-required, a code mailed.
    const before = sink.messages.length;
    const started = await healthyApi.post('/api/v1/login', login);
    expect(started.status).toBe(401);
    expect(started.body).toMatchObject({ error: 'totp-required' });
    const code = await sink.codeFor(user.email, { after: before });
    const challengeId: string = started.body.details.challengeId;
    const state = await secondFactorState();
    expect(state).toMatchObject({ codes: [{ consumed: null, live: true }] });

    // The degraded instance checks neither the code nor the password, in any of the ways they arrive.
    const attempts = [
      await degradedApi.post('/api/v1/login', { ...login, code }),
      await degradedApi.post('/api/v1/login', login, { headers: { 'x-2fa-code': code, 'x-2fa-method': 'email' } }),
      await degradedApi.post('/api/v1/login', { ...login, password: 'a wrong password', code: '000-000' }),
      await degradedApi.post('/api/v1/twoFactorChallenges.verifyChallenge', { challengeId, code }),
    ];
    for (const answer of attempts) {
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual(V1_UNAVAILABLE);
      expect(answer.headers.get('retry-after')).toBe('5');
    }
    const s2 = new S2Api(degraded.base, 'headers');
    const s2Login = await s2.post('/api/auth/login', { email: user.email, password: PASSWORD });
    expect(s2Login.status).toBe(503);
    expect(s2Login.body).toEqual(s2Unavailable('/api/auth/login'));
    expect(s2Login.headers.get('retry-after')).toBe('5');

    // Nothing changed: the code unused and live, no failure counted, no challenge touched, no session, no mail.
    await expect(secondFactorState()).resolves.toEqual(state);

    // And the code works where Redis is not needed.
    const finished = await healthyApi.post('/api/v1/login', { ...login, code });
    expect(finished.status).toBe(200);
    auth = { userId: finished.body.data.userId, authToken: finished.body.data.authToken };
  });

  it('keeps every other route working, limited per process, and refuses @Requires2FA routes', async () => {
    const api = new Api(degraded.base);
    await expect(fetch(`${degraded.base}/health`).then((r) => r.json())).resolves.toEqual({ status: 'ok', database: 'up' });

    // A session made elsewhere works here (sessions are in PostgreSQL).
    const me = await api.get('/api/v1/me', { auth });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ success: true, _id: user.userId, username: user.username });
    // A wrong token is a 401 (the failed-authentication counter falls back too), not a 503.
    const wrong = await api.get('/api/v1/me', { auth: { ...auth, authToken: 'not-the-token' } });
    expect(wrong.status).toBe(401);

    // A route behind the second factor runs the handshake, a code check: refused, the method untouched.
    const state = await secondFactorState();
    const disable = await api.post('/api/v1/users.2fa.disableEmail', {}, { auth, headers: { 'x-2fa-code': '123-456' } });
    expect(disable.status).toBe(503);
    expect(disable.body).toEqual(V1_UNAVAILABLE);
    await expect(secondFactorState()).resolves.toEqual(state);

    // RATE_LIMIT_PER_MINUTE=3 on this instance still holds, counted in the process.
    const body = { emailOrUsername: 'nobody@example.com' };
    const statuses = [];
    for (let request = 0; request < 3; request++) statuses.push((await api.post('/api/v1/users.2fa.sendEmailCode', body)).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await api.post('/api/v1/users.2fa.sendEmailCode', body);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatch(
      /You must wait \d+ seconds before trying this endpoint again\. \[error-too-many-requests\]$/,
    );
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('keeps the emailed-code cooldown, which lives in PostgreSQL, across instances', async () => {
    // An s2 session through the healthy instance (its login is a code check).
    const healthyS2 = new S2Api(healthy.base, 'headers');
    const before = sink.messages.length;
    const started = await healthyS2.post('/api/auth/login', { email: user.email, password: PASSWORD });
    expect(started.body).toMatchObject({ twoFactorRequired: true });
    const code = await sink.codeFor(user.email, { after: before });
    const finished = await healthyS2.post(
      '/api/auth/2fa/login',
      { email: code.replace('-', '') },
      { tokens: { twoFactor: started.body.twoFactorAuthenticationToken } },
    );
    expect(finished.status).toBe(200);
    const access = finished.body.accessToken as string;

    const sent = await healthyS2.post('/api/auth/2fa/email/send', undefined, { tokens: { access } });
    expect(sent.status).toBe(200);
    const again = await new S2Api(degraded.base, 'headers').post('/api/auth/2fa/email/send', undefined, { tokens: { access } });
    expect(again.status).toBe(429);
    expect(again.body).toMatchObject({ code: 'EMAIL_COOLDOWN_ACTIVE' });
  });

  it('logged one warning for the outage, not one per request or reconnect attempt', () => {
    const mentions = degraded.logs().filter((entry) => /Redis/.test(entry.msg ?? ''));
    expect(mentions).toEqual([
      expect.objectContaining({
        level: 'warn',
        context: 'RateLimit',
        msg:
          'Redis unreachable (connect ECONNREFUSED 127.0.0.1:1): routes that check a code or password answer 503 ' +
          'until it is back; other routes are rate limited per process',
      }),
    ]);
    expect(occurrences(degraded.output(), WARNING)).toBe(1);
    expect(occurrences(healthy.output(), WARNING)).toBe(0);
  });
});
