import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MetricsServer } from '../src/metrics/metrics-server.js';
import { Api, loginWithEmailCode, registerVerifiedUser, uniqueName } from './helpers/api.js';
import { MetricsText, scrape } from './helpers/metrics.js';
import { totp } from './helpers/rfc6238.js';
import { S2Api } from './helpers/s2.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/** How much one sample (exact labels) moved between two scrapes; a series new since `before` moved from 0. */
const moved = (before: MetricsText, after: MetricsText, name: string, labels: Record<string, string> = {}): number =>
  after.exact(name, labels) - (before.get(name, labels) ?? 0);

/** Every domain counter's move between two scrapes, zeros left out: what a flow changed, and nothing else. */
function domainMoves(before: MetricsText, after: MetricsText): Record<string, number> {
  const moves: Record<string, number> = {};
  for (const sample of after.samples) {
    if (!sample.name.startsWith('tfa_') || after.types.get(sample.name) !== 'counter') continue;
    const delta = sample.value - (before.get(sample.name, sample.labels) ?? 0);
    if (delta === 0) continue;
    const labels = Object.entries(sample.labels).map(([key, value]) => `${key}=${value}`);
    moves[labels.length ? `${sample.name}{${labels.join(',')}}` : sample.name] = delta;
  }
  return moves;
}

describe('GET /metrics on the public port', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ LOCKOUT_THRESHOLD: '3' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  const metrics = () => scrape(t.baseUrl);
  /**
   * A scrape once no mail is on its way: a message queued earlier (the verification link) is
   * counted as delivered by the time it is, not in the middle of the next flow.
   */
  const settledMetrics = async () => {
    let text: MetricsText | undefined;
    await vi.waitFor(
      async () => {
        text = await metrics();
        expect(text.exact('tfa_outbox_pending_messages')).toBe(0);
      },
      { timeout: 10_000 },
    );
    return text!;
  };
  /** A code other than `code` (so a "wrong" code is never right by chance). */
  const otherThan = (code: string) => (code.replace('-', '') === '111111' ? '222222' : '111111');

  it('counts a surface-1 login with an emailed code, after a wrong one', async () => {
    const user = await registerVerifiedUser(api, t);
    const before = await settledMetrics();
    const mailsBefore = t.mail.messages.length;
    const asked = await api.post('/api/v1/login', { user: user.username, password: user.password });
    expect(asked.status).toBe(401);
    expect(asked.body.error).toBe('totp-required');
    const code = await t.mail.codeFor(user.email, { after: mailsBefore });
    const wrong = await api.post('/api/v1/login', { user: user.username, password: user.password, code: otherThan(code) });
    expect(wrong.status).toBe(401);
    const right = await api.post('/api/v1/login', { user: user.username, password: user.password, code });
    expect(right.status).toBe(200);

    const after = await metrics();
    expect(domainMoves(before, after)).toEqual({
      'tfa_codes_sent_total{channel=email}': 1,
      // The code-less login became a challenge (it may be finished with verifyChallenge instead).
      'tfa_challenges_opened_total{purpose=login}': 1,
      'tfa_second_factor_verifications_total{method=email,outcome=invalid}': 1,
      'tfa_second_factor_verifications_total{method=email,outcome=success}': 1,
      tfa_mail_deliveries_total: 1,
    });
    const login = { route: '/api/v1/login', method: 'POST' };
    expect(moved(before, after, 'http_requests_total', { ...login, status: '401' })).toBe(2);
    expect(moved(before, after, 'http_requests_total', { ...login, status: '200' })).toBe(1);
  });

  it('counts the failures up to a lockout, and the attempt refused while locked', async () => {
    const user = await registerVerifiedUser(api, t);
    const before = await settledMetrics();
    const withCode = () => api.post('/api/v1/login', { user: user.username, password: user.password, code: '000000' });
    for (let attempt = 1; attempt <= 3; attempt += 1) expect((await withCode()).body.error).toBe('totp-invalid');
    const locked = await withCode();
    expect(locked.body.error).toBe('totp-max-attempts');
    expect(locked.body.details.lockedUntil).toEqual(expect.any(String));

    expect(domainMoves(before, await metrics())).toEqual({
      'tfa_second_factor_verifications_total{method=email,outcome=invalid}': 3,
      // LOCKOUT_THRESHOLD=3: the third failure locked the second factor.
      tfa_lockouts_total: 1,
      'tfa_second_factor_verifications_total{method=email,outcome=locked}': 1,
    });
  });

  it('counts TOTP checks by method', async () => {
    const user = await registerVerifiedUser(api, t);
    const agent = `metrics-totp/${uniqueName()}`;
    const auth = await loginWithEmailCode(api, t, user, { 'user-agent': agent });
    const setup = await api.post('/api/v1/users.2fa.enableTOTP', undefined, { auth });
    expect(setup.status).toBe(200);
    const secret: string = setup.body.secret;
    const validated = await api.post(
      '/api/v1/users.2fa.validateTOTP',
      { code: totp(secret, t.clock.now().getTime()) },
      { auth, headers: { 'user-agent': agent } },
    );
    expect(validated.status).toBe(200);
    // Into the next time step: the one validateTOTP used is spent.
    t.clock.advance(30 - ((t.clock.now().getTime() / 1000) % 30) + 1);

    const before = await settledMetrics();
    const code = totp(secret, t.clock.now().getTime());
    const login = (totpCode: string) =>
      api.post('/api/v1/login', { user: user.username, password: user.password, code: totpCode });
    expect((await login(otherThan(code))).status).toBe(401);
    expect((await login(code)).status).toBe(200);

    expect(domainMoves(before, await metrics())).toEqual({
      'tfa_second_factor_verifications_total{method=totp,outcome=invalid}': 1,
      'tfa_second_factor_verifications_total{method=totp,outcome=success}': 1,
    });
  });

  it('counts a surface-2 login and step-up: challenges opened and completed, codes, verifications', async () => {
    const s2 = new S2Api(t.baseUrl);
    const email = `${uniqueName('metrics')}@example.com`;
    const password = 'correct horse battery staple';
    expect((await s2.post('/api/auth/register', { email, password, name: 'Metrics' })).status).toBe(200);
    const link = new URL(await t.mail.linkFor(email));
    expect((await api.post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') })).status).toBe(200);

    const before = await settledMetrics();
    let mailsBefore = t.mail.messages.length;
    const login = await s2.post('/api/auth/login', { email, password });
    expect(login.body.twoFactorRequired).toBe(true);
    let code = await t.mail.codeFor(email, { after: mailsBefore });
    expect((await s2.post('/api/auth/2fa/login', { email: code.replace('-', '') })).status).toBe(200);

    mailsBefore = t.mail.messages.length;
    const stepUp = await s2.post('/api/auth/step-up', { password });
    expect(stepUp.body.twoFactorRequired).toBe(true);
    code = await t.mail.codeFor(email, { after: mailsBefore });
    const steppedUp = await s2.post('/api/auth/2fa/step-up', { email: code.replace('-', '') });
    expect(steppedUp.status).toBe(200);
    expect(steppedUp.body.stepUpToken).toEqual(expect.any(String));

    expect(domainMoves(before, await metrics())).toEqual({
      'tfa_codes_sent_total{channel=email}': 2,
      'tfa_challenges_opened_total{purpose=login}': 1,
      'tfa_challenges_opened_total{purpose=step_up}': 1,
      'tfa_challenges_completed_total{purpose=login}': 1,
      'tfa_challenges_completed_total{purpose=step_up}': 1,
      'tfa_second_factor_verifications_total{method=email,outcome=success}': 2,
      tfa_mail_deliveries_total: 2,
    });
  });

  it('records requests by route template, method and status, with a latency histogram; raw URLs never become labels', async () => {
    const s2 = new S2Api(t.baseUrl, 'headers');
    const sessionId = randomBytes(9).toString('hex');
    const strangePath = `/no/such/${randomBytes(6).toString('hex')}`;
    const before = await settledMetrics();
    for (let i = 0; i < 3; i += 1) expect((await api.get('/health')).status).toBe(200);
    const revoked = await s2.delete(`/api/users/me/sessions/${sessionId}`);
    expect((await api.get(strangePath)).status).toBe(404);
    expect((await api.get(`${strangePath}/deeper`)).status).toBe(404);
    const after = await metrics();

    const health = { route: '/health', method: 'GET', status: '200' };
    expect(moved(before, after, 'http_requests_total', health)).toBe(3);
    expect(moved(before, after, 'http_request_duration_seconds_count', health)).toBe(3);
    expect(after.exact('http_request_duration_seconds_bucket', { ...health, le: '+Inf' })).toBe(
      after.exact('http_request_duration_seconds_count', health),
    );
    // Cumulative buckets: never decreasing, the last one the count.
    const buckets = after.find('http_request_duration_seconds_bucket', health).map((sample) => sample.value);
    expect(buckets.length).toBeGreaterThan(5);
    expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
    expect(after.exact('http_request_duration_seconds_sum', health)).toBeGreaterThan(0);
    expect(after.types.get('http_request_duration_seconds')).toBe('histogram');

    const template = { route: '/api/users/me/sessions/:id', method: 'DELETE', status: String(revoked.status) };
    expect(moved(before, after, 'http_requests_total', template)).toBe(1);
    expect(after.exact('http_request_duration_seconds_count', template)).toBeGreaterThanOrEqual(1);
    expect(after.find('http_request_duration_seconds_count', { route: '/api/v1/login', method: 'POST' }).length).toBeGreaterThan(
      0,
    );
    expect(moved(before, after, 'http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(2);
    expect(after.text).not.toContain(sessionId);
    expect(after.text).not.toContain(strangePath);
    // The scrapes themselves are not counted.
    expect(after.find('http_requests_total', { route: '/metrics' })).toEqual([]);
    expect(new Set(after.find('http_requests_total').map((sample) => sample.labels.route))).not.toContain(undefined);
  });

  it('shows a queued message in the outbox gauges, and its failed and successful deliveries', async () => {
    const user = await registerVerifiedUser(api, t);
    // Whatever mail earlier tests queued is out.
    const before = await settledMetrics();
    expect(before.exact('tfa_outbox_oldest_pending_age_seconds')).toBe(0);

    t.mail.failNext(1);
    const login = await api.post('/api/v1/login', { user: user.username, password: user.password });
    expect(login.status).not.toBe(200);
    t.clock.advance(42);
    const queued = await metrics();
    expect(queued.exact('tfa_outbox_pending_messages')).toBe(1);
    expect(queued.exact('tfa_outbox_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(42);
    expect(queued.exact('tfa_outbox_oldest_pending_age_seconds')).toBeLessThan(42 + 30);
    expect(domainMoves(before, queued)).toEqual({
      'tfa_codes_sent_total{channel=email}': 1,
      'tfa_mail_delivery_failures_total{outcome=retrying}': 1,
    });

    // Past its retry delay, the worker delivers it.
    expect(await t.worker.runOnce()).toBe(1);
    const delivered = await metrics();
    expect(delivered.exact('tfa_outbox_pending_messages')).toBe(0);
    expect(delivered.exact('tfa_outbox_oldest_pending_age_seconds')).toBe(0);
    expect(moved(queued, delivered, 'tfa_mail_deliveries_total')).toBe(1);
  });

  it('shows the database pool and the process', async () => {
    const text = await metrics();
    const total = text.exact('tfa_db_pool_connections');
    expect(total).toBeGreaterThanOrEqual(1);
    expect(text.exact('tfa_db_pool_idle_connections')).toBeGreaterThanOrEqual(0);
    expect(text.exact('tfa_db_pool_idle_connections')).toBeLessThanOrEqual(total);
    expect(text.exact('tfa_db_pool_waiting_clients')).toBe(0);
    expect(text.exact('tfa_db_pool_max_connections')).toBe(20);
    expect(text.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(text.exact('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = await api.get('/api/openapi.json');
    expect(doc.body.paths['/metrics'].get).toMatchObject({ summary: expect.any(String), responses: { 200: expect.anything() } });
  });
});

describe('GET /metrics under a tight rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(async () => t?.close());

  it('is never rate limited', async () => {
    const api = new Api(t.baseUrl);
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await api.post('/api/v1/login', {})).status);
    expect(statuses).toEqual([401, 401, 429]);
    for (let i = 0; i < 6; i += 1) await expect(scrape(t.baseUrl)).resolves.toBeInstanceOf(MetricsText);
    const text = await scrape(t.baseUrl);
    expect(text.exact('http_requests_total', { route: '/api/v1/login', method: 'POST', status: '429' })).toBe(1);
  });
});

describe('with METRICS_PORT', () => {
  let t: TestApp;
  let closed = false;
  beforeAll(async () => {
    t = await createTestApp({ METRICS_PORT: '0' });
  });
  afterAll(async () => {
    if (!closed) await t?.close();
  });

  it('serves /metrics only on its own port, answers 404 for it on the public one, and stops on shutdown', async () => {
    const port = t.app.get(MetricsServer).port;
    expect(port).toEqual(expect.any(Number));
    expect(String(port)).not.toBe(new URL(t.baseUrl).port);
    const metricsUrl = `http://127.0.0.1:${port}`;

    const publicAnswer = await fetch(`${t.baseUrl}/metrics`);
    expect(publicAnswer.status).toBe(404);
    expect(await publicAnswer.text()).not.toContain('# TYPE');
    const doc = await new Api(t.baseUrl).get('/api/openapi.json');
    expect(doc.body.paths['/metrics']).toBeUndefined();

    const text = await scrape(metricsUrl);
    // The public port's requests, the refused /metrics among them (as an unmatched route).
    expect(text.exact('http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect(text.exact('tfa_lockouts_total')).toBe(0);
    expect((await fetch(`${metricsUrl}/api/openapi.json`)).status).toBe(404);

    closed = true;
    await t.close();
    await expect(fetch(`${metricsUrl}/metrics`)).rejects.toThrow();
  });
});
