import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  type Credentials,
  loginWithEmailCode,
  registerVerifiedUser,
  sha256,
  type TestUser,
  uniqueName,
} from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const ADMIN = { username: 'fidelityadmin', email: 'fidelityadmin@example.com', password: 'fidelity admin password' };
const UNAUTHORIZED = { status: 'error', error: 'Unauthorized', message: 'Unauthorized' };

/**
 * Where Rocket.Chat's clients and its own API tests (apps/meteor/tests/end-to-end/api) expect
 * Rocket.Chat's answers: login body shapes, ignored extra fields, the password checks of
 * deleteOwnAccount, token expiry.
 */
describe('Rocket.Chat fidelity (surface 1)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ ADMIN_USERNAME: ADMIN.username, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  /** Registered, email not verified: logs in with the password alone. */
  async function registerUnverified(): Promise<TestUser> {
    const username = uniqueName('fid');
    const email = `${username}@example.com`;
    const password = 'correct horse battery';
    const res = await api.post('/api/v1/users.register', { username, email, pass: password, name: `Test ${username}` });
    expect(res.status).toBe(200);
    return { username, email, password, userId: res.body.user._id };
  }

  const loggedIn = (res: { status: number; body: any }, user: TestUser) => {
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'success', data: { userId: user.userId, authToken: expect.any(String) } });
    return { userId: res.body.data.userId as string, authToken: res.body.data.authToken as string };
  };

  describe('login body shapes', () => {
    it('takes `user` as {username} or {email}, and the password as {digest, algorithm: "sha-256"} (either case)', async () => {
      const user = await registerUnverified();
      const digest = { digest: sha256(user.password), algorithm: 'sha-256' };
      loggedIn(await api.post('/api/v1/login', { user: { username: user.username }, password: user.password }), user);
      loggedIn(await api.post('/api/v1/login', { user: { email: user.email.toUpperCase() }, password: user.password }), user);
      loggedIn(await api.post('/api/v1/login', { user: { username: user.username }, password: digest }), user);
      loggedIn(
        await api.post('/api/v1/login', { user: user.email, password: { ...digest, digest: digest.digest.toUpperCase() } }),
        user,
      );
      loggedIn(await api.post('/api/v1/login', { username: user.username, password: digest }), user);

      // The object forms name one field: {username} is not matched against emails, nor the reverse.
      const crossed = await api.post('/api/v1/login', { user: { username: user.email }, password: user.password });
      expect(crossed.status).toBe(401);
      expect(crossed.body).toEqual(UNAUTHORIZED);
      const wrongDigest = await api.post('/api/v1/login', {
        user: { username: user.username },
        password: { ...digest, digest: sha256('nope') },
      });
      expect(wrongDigest.status).toBe(401);
      expect(wrongDigest.body).toEqual(UNAUTHORIZED);
    });

    it('refuses malformed shapes with invalid-params', async () => {
      const user = await registerUnverified();
      for (const body of [
        { user: { username: user.username, email: user.email }, password: user.password },
        { user: {}, password: user.password },
        { user: { id: user.userId }, password: user.password },
        { user: { username: 42 }, password: user.password },
        { user: user.username, password: { digest: sha256(user.password), algorithm: 'md5' } },
        { user: user.username, password: { digest: 'not-hex', algorithm: 'sha-256' } },
        { user: user.username, password: { digest: sha256(user.password) } },
        { user: user.username, password: '' },
      ]) {
        const res = await api.post('/api/v1/login', body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toMatchObject({ success: false, errorType: 'invalid-params' });
      }
    });

    it('{resume: authToken} logs in again with a live login token, answering the same token; anything else is 401', async () => {
      const user = await registerVerifiedUser(api, t);
      const auth = await loginWithEmailCode(api, t, user);
      const resumed = await api.post('/api/v1/login', { resume: auth.authToken });
      const again = loggedIn(resumed, user);
      expect(again.authToken).toBe(auth.authToken);
      // No second factor asked: the token was issued after it.
      expect(resumed.body.data.me).toMatchObject({ _id: user.userId, services: { email2fa: { enabled: true } } });
      expect(t.mail.messages.filter((m) => m.to.includes(user.email)).length).toBe(2); // verification + the login's code

      const pat = await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'bot' }, { auth });
      for (const resume of ['not-a-token', sha256(auth.authToken), pat.body.token as string]) {
        const res = await api.post('/api/v1/login', { resume });
        expect(res.status).toBe(401);
        expect(res.body).toEqual(UNAUTHORIZED);
      }
      await api.post('/api/v1/logout', undefined, { auth });
      const afterLogout = await api.post('/api/v1/login', { resume: auth.authToken });
      expect(afterLogout.status).toBe(401);
    });
  });

  describe('unknown fields are dropped, as Rocket.Chat ignores them', () => {
    it("users.create takes Rocket.Chat's extra fields (joinDefaultChannels, active, customFields, …) and ignores them", async () => {
      const admin = await loginWithEmailCode(api, t, { ...ADMIN, userId: '' });
      const username = uniqueName('made');
      const res = await api.post(
        '/api/v1/users.create',
        {
          email: `${username}@example.com`,
          name: 'Made Here',
          password: 'made password 123',
          username,
          verified: true,
          roles: ['user'],
          active: true,
          joinDefaultChannels: false,
          requirePasswordChange: false,
          sendWelcomeEmail: false,
          customFields: { isAdmin: true },
        },
        { auth: admin },
      );
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ username, active: true, roles: ['user'], status: 'offline' });
    });

    it('generatePersonalAccessToken ignores extra fields; they never reach the token', async () => {
      const user = await registerVerifiedUser(api, t);
      const auth = await loginWithEmailCode(api, t, user);
      const res = await api.post(
        '/api/v1/users.generatePersonalAccessToken',
        { tokenName: 'ci', bypassTwoFactor: false, expiresAt: '2000-01-01', userId: 'someoneElse12345' },
        { auth },
      );
      expect(res.status).toBe(200);
      const [row] = await t.db.query(`SELECT user_id FROM sessions WHERE kind = 'personal' AND name = 'ci' AND user_id = $1`, [
        user.userId,
      ]);
      expect(row).toEqual({ user_id: user.userId });
    });
  });

  describe('users.deleteOwnAccount checks the body password', () => {
    it('a user without a method: the body password (hex SHA-256, either case) is the second factor; a wrong one is error-invalid-password', async () => {
      const user = await registerUnverified();
      const auth = loggedIn(await api.post('/api/v1/login', { user: user.username, password: user.password }), user);

      const wrong = await api.post('/api/v1/users.deleteOwnAccount', { password: sha256('not it') }, { auth });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual({
        success: false,
        error: 'Invalid password [error-invalid-password]',
        errorType: 'error-invalid-password',
      });
      const [{ n }] = await t.db.query('SELECT count(*)::int AS n FROM users WHERE id = $1', [user.userId]);
      expect(n).toBe(1);
      // Counted as a failed second factor, like a wrong x-2fa-code.
      const [failures] = await t.db.query('SELECT consecutive_failures FROM second_factor_failures WHERE user_id = $1', [
        user.userId,
      ]);
      expect(failures).toEqual({ consecutive_failures: 1 });

      const res = await api.post('/api/v1/users.deleteOwnAccount', { password: sha256(user.password).toUpperCase() }, { auth });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      expect((await api.get('/api/v1/me', { auth })).status).toBe(401);
    });

    it('a user with a method gives the code and the password: a wrong password is refused even with the right code', async () => {
      const user = await registerVerifiedUser(api, t);
      const auth = await loginWithEmailCode(api, t, user);
      const before = t.mail.messages.length;
      const asked = await api.post('/api/v1/users.deleteOwnAccount', { password: sha256(user.password) }, { auth });
      expect(asked.status).toBe(400);
      expect(asked.body.errorType).toBe('totp-required');
      const code = await t.mail.codeFor(user.email, { after: before });
      const wrong = await api.post(
        '/api/v1/users.deleteOwnAccount',
        { password: sha256('not it') },
        { auth, headers: { 'x-2fa-code': code, 'x-2fa-method': 'email' } },
      );
      expect(wrong.status).toBe(400);
      expect(wrong.body.errorType).toBe('error-invalid-password');
      expect((await api.get('/api/v1/me', { auth })).status).toBe(200);

      const again = t.mail.messages.length;
      await api.post(
        '/api/v1/users.deleteOwnAccount',
        { password: sha256(user.password) },
        { auth, headers: { 'user-agent': 'x' } },
      );
      const next = await t.mail.codeFor(user.email, { after: again });
      const res = await api.post(
        '/api/v1/users.deleteOwnAccount',
        { password: sha256(user.password) },
        { auth, headers: { 'x-2fa-code': next, 'x-2fa-method': 'email' } },
      );
      expect(res.body).toEqual({ success: true });
    });
  });

  describe('login tokens expire after LOGIN_TOKEN_EXPIRY_DAYS (90); personal access tokens do not', () => {
    it('a login token works until day 90 and is refused after, also for resume; a personal access token lives on', async () => {
      const user = await registerVerifiedUser(api, t);
      const auth: Credentials = await loginWithEmailCode(api, t, user);
      const pat = await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'forever' }, { auth });
      const personal = { userId: user.userId, authToken: pat.body.token as string };

      t.clock.advance(89 * 86_400);
      expect((await api.get('/api/v1/me', { auth })).status).toBe(200);
      t.clock.advance(2 * 86_400);
      const expired = await api.get('/api/v1/me', { auth });
      expect(expired.status).toBe(401);
      expect(expired.body).toEqual({ status: 'error', message: 'You must be logged in to do this.' });
      expect((await api.post('/api/v1/login', { resume: auth.authToken })).status).toBe(401);
      expect((await api.get('/api/v1/me', { auth: personal })).status).toBe(200);
    });
  });
});

describe('LOGIN_TOKEN_EXPIRY_DAYS (surface 1)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ LOGIN_TOKEN_EXPIRY_DAYS: '1' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('LOGIN_TOKEN_EXPIRY_DAYS=1 ends a login token after a day', async () => {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user);
    t.clock.advance(86_400 - 60);
    expect((await api.get('/api/v1/me', { auth })).status).toBe(200);
    t.clock.advance(120);
    expect((await api.get('/api/v1/me', { auth })).status).toBe(401);
  });
});

describe('failed authentication is rate limited (surface 1)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '5' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('wrong tokens are counted per client address: 429 past RATE_LIMIT_FAILED_AUTH_PER_MINUTE', async () => {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user);
    const guess = (i: number) => api.get('/api/v1/me', { auth: { userId: user.userId, authToken: `guess-${i}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await guess(i)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((status) => status === 429)).toBe(true);
    const limited = await guess(99);
    expect(limited.body).toEqual({
      success: false,
      error: expect.stringMatching(
        /^Error, too many requests\. Please slow down\. You must wait \d+ seconds .*\[error-too-many-requests\]$/,
      ),
    });
    // Missing credentials count too.
    expect((await api.get('/api/v1/me')).status).toBe(429);
    // The right token still works: only failures are counted and refused.
    expect((await api.get('/api/v1/me', { auth })).status).toBe(200);
  });
});
