import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type ApiResponse, uniqueName } from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * Rate limits on unauthenticated routes (API.md "Shapes": 429 body and X-RateLimit-* headers;
 * DESIGN.md: per caller and route). The limiter runs on real time, so each test uses a route no
 * other test of this file touches, and the file stays well inside one minute.
 */

const LIMIT = 3;
const TOO_MANY =
  /^Error, too many requests\. Please slow down\. You must wait (\d+) seconds before trying this endpoint again\. \[error-too-many-requests\]$/;

function expectRateLimitHeaders(res: ApiResponse, remaining: number): void {
  expect(res.headers.get('x-ratelimit-limit')).toBe(String(LIMIT));
  expect(res.headers.get('x-ratelimit-remaining')).toBe(String(remaining));
  const reset = res.headers.get('x-ratelimit-reset');
  expect(reset).toMatch(/^\d+$/);
  expect(Number(reset)).toBeGreaterThan(0);
  expect(Number(reset)).toBeLessThanOrEqual(60);
}

function expectTooManyRequests(res: ApiResponse): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ success: false, error: expect.stringMatching(TOO_MANY) });
  const wait = Number(TOO_MANY.exec(res.body.error)![1]);
  expect(Number.isInteger(wait)).toBe(true);
  expect(wait).toBeGreaterThan(0);
  expect(wait).toBeLessThanOrEqual(60);
  expectRateLimitHeaders(res, 0);
}

describe(`rate limits (RATE_LIMIT_PER_MINUTE=${LIMIT})`, () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_PER_MINUTE: String(LIMIT) });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('the 4th login within a minute answers 429 with the Rocket.Chat body and headers', async () => {
    const credentials = { user: uniqueName('nobody'), password: 'wrong password' };
    for (let i = 1; i <= LIMIT; i++) {
      const res = await api.post('/api/v1/login', credentials);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ status: 'error', error: 'Unauthorized', message: 'Unauthorized' });
      expectRateLimitHeaders(res, LIMIT - i);
    }
    const limited = await api.post('/api/v1/login', credentials);
    expectTooManyRequests(limited);
    // Still limited, whatever the body.
    expectTooManyRequests(await api.post('/api/v1/login', { user: uniqueName('other'), password: 'x' }));
  });

  it('successful answers carry X-RateLimit-* too; the 4th sendEmailCode answers 429', async () => {
    for (let i = 1; i <= LIMIT; i++) {
      const res = await api.post('/api/v1/users.2fa.sendEmailCode', { emailOrUsername: uniqueName('nobody') });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      expectRateLimitHeaders(res, LIMIT - i);
    }
    expectTooManyRequests(await api.post('/api/v1/users.2fa.sendEmailCode', { emailOrUsername: uniqueName('nobody') }));
  });

  it('counts per route: another unauthenticated route still answers once one is exhausted', async () => {
    for (let i = 1; i <= LIMIT; i++) {
      const res = await api.post('/api/v1/users.verifyEmail', { token: 'no-such-token' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ success: false, errorType: 'error-invalid-token' });
    }
    expectTooManyRequests(await api.post('/api/v1/users.verifyEmail', { token: 'no-such-token' }));

    const other = await api.post('/api/v1/users.sendConfirmationEmail', { email: `${uniqueName('nobody')}@example.com` });
    expect(other.status).toBe(200);
    expect(other.body).toEqual({ success: true });
    expectRateLimitHeaders(other, LIMIT - 1);
  });

  it('counts requests that validation rejects too', async () => {
    for (let i = 1; i <= LIMIT; i++) {
      const res = await api.post('/api/v1/users.register', { username: 1 });
      expect(res.status).toBe(400);
      expectRateLimitHeaders(res, LIMIT - i);
    }
    expectTooManyRequests(await api.post('/api/v1/users.register', { username: 1 }));
  });
});

describe('rate limits on authenticated routes (RATE_LIMIT_AUTHENTICATED_PER_MINUTE=3)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_AUTHENTICATED_PER_MINUTE: String(LIMIT) });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('counts per verified user: forged calls with a victim id do not spend the victim allowance', async () => {
    const username = uniqueName('victim');
    await api.post('/api/v1/users.register', { username, email: `${username}@example.com`, pass: 'a long password', name: 'V' });
    // Unverified email: no second factor, login completes at once.
    const login = await api.post('/api/v1/login', { user: username, password: 'a long password' });
    const victim = { userId: login.body.data.userId, authToken: login.body.data.authToken };

    for (let i = 0; i < LIMIT + 2; i++) {
      const forged = await api.get('/api/v1/me', { auth: { userId: victim.userId, authToken: `forged-${i}` } });
      expect(forged.status).toBe(401);
    }
    const own = [];
    for (let i = 0; i < LIMIT; i++) own.push(await api.get('/api/v1/me', { auth: victim }));
    expect(own.map((res) => res.status)).toEqual([200, 200, 200]);
    expectRateLimitHeaders(own[2]!, 0);
    expectTooManyRequests(await api.get('/api/v1/me', { auth: victim }));
  });
});

describe('client address behind a proxy (TRUST_PROXY=1)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_PER_MINUTE: String(LIMIT), TRUST_PROXY: '1' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('takes the address the proxy saw: a client cannot reset its limit by forging X-Forwarded-For', async () => {
    const body = { user: uniqueName('nobody'), password: 'wrong password' };
    // This test is the proxy: it appends the real client address after whatever the client sent.
    const viaProxy = (forged: string) => ({ headers: { 'x-forwarded-for': `${forged}, 203.0.113.7` } });
    const answers = [];
    for (let i = 0; i < LIMIT; i++) answers.push(await api.post('/api/v1/login', body, viaProxy(`198.51.100.${i}`)));
    expect(answers.map((res) => res.status)).toEqual([401, 401, 401]);
    expectTooManyRequests(await api.post('/api/v1/login', body, viaProxy('198.51.100.99')));
    // Another real client behind the same proxy has its own allowance.
    const other = await api.post('/api/v1/login', body, { headers: { 'x-forwarded-for': '203.0.113.8' } });
    expect(other.status).toBe(401);
  });
});
