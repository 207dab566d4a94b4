import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Credentials, loginWithEmailCode, registerVerifiedUser, type TestUser } from './helpers/api.js';
import { PAT_ROUTE } from './helpers/routes.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const ADMIN = { username: 'unlockadmin', email: 'unlock-admin@example.com', password: 'admin password 123' };

/** LOCKOUT_MAX_FAILURES consecutive failures lock for good; users.2fa.unlock (admins) is the way out. */
describe('users.2fa.unlock', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      LOCKOUT_THRESHOLD: '2',
      LOCKOUT_MAX_FAILURES: '3',
    });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  /** A user whose second factor is locked for good, and a session of theirs. */
  async function lockedForGood(): Promise<{ user: TestUser; auth: Credentials }> {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user, { 'user-agent': 'owner' });
    const wrong = (agent: string) =>
      api.post(
        PAT_ROUTE,
        { tokenName: agent },
        { auth, headers: { 'user-agent': agent, 'x-2fa-code': '000000', 'x-2fa-method': 'email' } },
      );
    await api.post(PAT_ROUTE, { tokenName: 'x' }, { auth, headers: { 'user-agent': 'a' } }); // a code exists
    await wrong('b');
    await wrong('c'); // 2 failures: locked for LOCKOUT_BASE_SECONDS
    t.clock.advance(t.config.LOCKOUT_BASE_SECONDS + 1);
    await wrong('d'); // 3 failures: LOCKOUT_MAX_FAILURES, locked for good
    t.clock.advance(60 * 86_400); // within LOGIN_TOKEN_EXPIRY_DAYS, far beyond any timed lock
    const still = await api.post(PAT_ROUTE, { tokenName: 'y' }, { auth, headers: { 'user-agent': 'e' } });
    expect(still.body.errorType).toBe('totp-max-attempts');
    expect(still.body.details.lockedUntil).toMatch(/^9999-/);
    return { user, auth };
  }

  it('an admin lifts the lock after their own second factor; the user gets codes again', async () => {
    const { user, auth } = await lockedForGood();
    const admin = await loginWithEmailCode(api, t, { ...ADMIN, userId: '' }, { 'user-agent': 'admin' });
    // Never remembered: the admin gives a second factor for this very action.
    const before = t.mail.messages.length;
    const asked = await api.post(
      '/api/v1/users.2fa.unlock',
      { userId: user.userId },
      { auth: admin, headers: { 'user-agent': 'admin' } },
    );
    expect(asked.body.errorType).toBe('totp-required');
    const code = await t.mail.codeFor(ADMIN.email, { after: before });
    const unlocked = await api.post(
      '/api/v1/users.2fa.unlock',
      { userId: user.userId },
      { auth: admin, headers: { 'user-agent': 'admin', 'x-2fa-code': code, 'x-2fa-method': 'email' } },
    );
    expect(unlocked.body).toEqual({ success: true });

    const again = await api.post(PAT_ROUTE, { tokenName: 'z' }, { auth, headers: { 'user-agent': 'f' } });
    expect(again.body).toMatchObject({ errorType: 'totp-required', details: { method: 'email', codeGenerated: true } });
    const events = await api.get('/api/v1/users.2fa.events', { auth });
    expect(events.body.events[0]).toMatchObject({ type: 'code_sent' });
    expect(events.body.events.map((event: { type: string }) => event.type)).toContain('lockout_cleared');
  });

  it('is refused to a non-admin before any second factor is asked, and answers error-user-not-found for an unknown id', async () => {
    const { user } = await lockedForGood();
    const other = await registerVerifiedUser(api, t);
    const otherAuth = await loginWithEmailCode(api, t, other);
    const refused = await api.post('/api/v1/users.2fa.unlock', { userId: user.userId }, { auth: otherAuth });
    expect(refused.status).toBe(403);
    expect(refused.body.errorType).toBe('error-not-allowed');

    const admin = await loginWithEmailCode(api, t, { ...ADMIN, userId: '' }, { 'user-agent': 'admin2' });
    const before = t.mail.messages.length;
    await api.post('/api/v1/users.2fa.unlock', { userId: 'nobody' }, { auth: admin, headers: { 'user-agent': 'admin2' } });
    const code = await t.mail.codeFor(ADMIN.email, { after: before });
    const unknown = await api.post(
      '/api/v1/users.2fa.unlock',
      { userId: 'nobody' },
      { auth: admin, headers: { 'user-agent': 'admin2', 'x-2fa-code': code, 'x-2fa-method': 'email' } },
    );
    expect(unknown.body).toMatchObject({ success: false, errorType: 'error-user-not-found' });
  });
});
