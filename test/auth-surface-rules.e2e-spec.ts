import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionsRepository } from '../src/auth/sessions.repository.js';
import { TwoFactorMethodsService } from '../src/two-factor/two-factor-methods.service.js';
import { Api, uniqueName } from './helpers/api.js';
import { totp } from './helpers/rfc6238.js';
import { S2Api, s2Error, type S2Tokens } from './helpers/s2.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const PASSWORD = 'correct horse battery staple';

interface Member {
  email: string;
  userId: string;
  tokens: S2Tokens;
}

/** Surface 2's rules beyond the happy path: every seed-001 error, token binding, revocation, shared codes and limits. */
describe('surface 2: rules and errors', () => {
  let t: TestApp;
  let api: S2Api;
  let v1: Api;

  beforeAll(async () => {
    t = await createTestApp();
    api = new S2Api(t.baseUrl, 'headers');
    v1 = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  async function register(): Promise<{ email: string }> {
    const email = `${uniqueName('rule')}@example.com`;
    expect((await api.post('/api/auth/register', { email, password: PASSWORD, name: 'Rule Keeper' })).body).toEqual({
      success: true,
    });
    const link = new URL(await t.mail.linkFor(email));
    expect((await v1.post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') })).status).toBe(200);
    return { email };
  }

  /** Logged in with the mailed code; tokens as a header-carrying app holds them. */
  async function member(agent = 'rules/1'): Promise<Member> {
    const { email } = await register();
    return login(email, agent);
  }

  async function login(email: string, agent = 'rules/1'): Promise<Member> {
    const before = t.mail.messages.length;
    const started = await api.post('/api/auth/login', { email, password: PASSWORD }, { headers: { 'user-agent': agent } });
    expect(started.body.twoFactorRequired).toBe(true);
    const code = await t.mail.codeFor(email, { after: before });
    const done = await api.post(
      '/api/auth/2fa/login',
      { email: code },
      { tokens: { twoFactor: started.body.twoFactorAuthenticationToken }, headers: { 'user-agent': agent } },
    );
    expect(done.status).toBe(200);
    return { email, userId: done.body.user.id, tokens: { access: done.body.accessToken, refresh: done.body.refreshToken } };
  }

  async function stepUp(who: Member): Promise<void> {
    const before = t.mail.messages.length;
    const started = await api.post('/api/auth/step-up', { password: PASSWORD }, { tokens: { access: who.tokens.access } });
    const code = await t.mail.codeFor(who.email, { after: before });
    const done = await api.post(
      '/api/auth/2fa/step-up',
      { email: code },
      { tokens: { access: who.tokens.access, twoFactor: started.body.twoFactorAuthenticationToken } },
    );
    expect(done.status).toBe(200);
    who.tokens.stepUp = done.body.stepUpToken;
  }

  const as = (who: Member, extra: S2Tokens = {}) => ({
    tokens: { access: who.tokens.access, stepUp: who.tokens.stepUp, ...extra },
  });

  /** TOTP set up and confirmed (the member has stepped up); the setup answer (secret, recovery codes). */
  async function enableTotp(who: Member) {
    const setup = await api.get('/api/auth/2fa/totp/setup', as(who));
    const confirmed = await api.post(
      '/api/auth/2fa/totp/setup',
      { token: setup.body.token, code: totp(setup.body.secret, t.clock.now()) },
      as(who),
    );
    expect(confirmed.status).toBe(200);
    return setup;
  }

  describe('tokens', () => {
    it("a step-up token is refused with another session's access token, even the same user's", async () => {
      const alice = await member('alice/phone');
      await stepUp(alice);
      const laptop = await login(alice.email, 'alice/laptop');
      const res = await api.post(
        '/api/auth/2fa/preferred-method',
        { method: 'email' },
        { tokens: { access: laptop.tokens.access, stepUp: alice.tokens.stepUp } },
      );
      expect(res.status).toBe(401);
      expect(res.body).toEqual(s2Error(401, 'STEP_UP_TOKEN_INVALID', '/api/auth/2fa/preferred-method'));
      const bob = await member();
      const other = await api.post(
        '/api/auth/2fa/preferred-method',
        { method: 'email' },
        { tokens: { access: bob.tokens.access, stepUp: alice.tokens.stepUp } },
      );
      expect(other.body.code).toBe('STEP_UP_TOKEN_INVALID');
      const own = await api.post('/api/auth/2fa/preferred-method', { method: 'email' }, as(alice));
      expect(own.status).toBe(200);
    });

    it('a token of one type never passes as another; a tampered one is invalid; an old one expired', async () => {
      const who = await member();
      await stepUp(who);
      const asAccess = await api.get('/api/auth/status', { tokens: { access: who.tokens.refresh } });
      expect(asAccess.body).toEqual(s2Error(401, 'ACCESS_TOKEN_INVALID', '/api/auth/status'));
      const tampered = `${who.tokens.access!.slice(0, -4)}AAAA`;
      expect((await api.get('/api/auth/status', { tokens: { access: tampered } })).body.code).toBe('ACCESS_TOKEN_INVALID');
      const wrongStepUp = await api.get('/api/auth/2fa/totp/setup', {
        tokens: { access: who.tokens.access, stepUp: who.tokens.access },
      });
      expect(wrongStepUp.body).toEqual(s2Error(401, 'STEP_UP_TOKEN_INVALID', '/api/auth/2fa/totp/setup'));
      expect((await api.get('/api/auth/status')).body).toEqual({
        authenticated: false,
        stepUp: false,
        emailVerified: null,
        twoFactorRequired: false,
        preferredTwoFactorMethod: null,
        twoFactorMethods: null,
        sessionId: null,
      });
      const missing = await api.post('/api/auth/step-up', { password: PASSWORD });
      expect(missing.body).toEqual(s2Error(401, 'AUTHENTICATION_REQUIRED', '/api/auth/step-up'));
      const noTwoFactor = await api.post('/api/auth/2fa/login', { email: '123456' });
      expect(noTwoFactor.body).toEqual(s2Error(401, 'TWO_FACTOR_AUTHENTICATION_TOKEN_MISSING', '/api/auth/2fa/login'));
      const badTwoFactor = await api.post('/api/auth/2fa/login', { email: '123456' }, { tokens: { twoFactor: 'not.a.jwt' } });
      expect(badTwoFactor.body.code).toBe('TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID');
      const noRefresh = await api.post('/api/auth/refresh', {});
      expect(noRefresh.body).toEqual(s2Error(401, 'REFRESH_TOKEN_MISSING', '/api/auth/refresh'));

      t.clock.advance(t.config.ACCESS_TOKEN_TTL_SECONDS + 1);
      expect((await api.get('/api/auth/status', { tokens: { access: who.tokens.access } })).body).toEqual(
        s2Error(401, 'ACCESS_TOKEN_EXPIRED', '/api/auth/status'),
      );
      const refreshed = await api.post('/api/auth/refresh', {}, { tokens: { refresh: who.tokens.refresh } });
      expect(refreshed.status).toBe(200);
      const expiredStepUp = await api.get('/api/auth/2fa/totp/setup', {
        tokens: { access: refreshed.body.accessToken, stepUp: who.tokens.stepUp },
      });
      expect(expiredStepUp.body).toEqual(s2Error(401, 'STEP_UP_TOKEN_EXPIRED', '/api/auth/2fa/totp/setup'));
      t.clock.advance(t.config.REFRESH_TOKEN_TTL_SECONDS + 1);
      const expiredRefresh = await api.post('/api/auth/refresh', {}, { tokens: { refresh: refreshed.body.refreshToken } });
      expect(expiredRefresh.body).toEqual(s2Error(401, 'REFRESH_TOKEN_EXPIRED', '/api/auth/refresh'));
    });

    it('refresh tokens rotate; presenting a rotated-away one revokes the whole session', async () => {
      const who = await member();
      const first = await api.post('/api/auth/refresh', {}, { tokens: { refresh: who.tokens.refresh } });
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        principal: expect.objectContaining({ email: who.email }),
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
      });
      expect(first.body.refreshToken).not.toBe(who.tokens.refresh);
      // The old refresh token again: someone else holds a copy. The session ends for everyone.
      const reused = await api.post('/api/auth/refresh', {}, { tokens: { refresh: who.tokens.refresh } });
      expect(reused.body).toEqual(s2Error(401, 'REFRESH_TOKEN_INVALID', '/api/auth/refresh'));
      expect((await api.post('/api/auth/refresh', {}, { tokens: { refresh: first.body.refreshToken } })).body.code).toBe(
        'REFRESH_TOKEN_INVALID',
      );
      expect((await api.get('/api/auth/status', { tokens: { access: first.body.accessToken } })).body.code).toBe(
        'ACCESS_TOKEN_EXPIRED',
      );
    });

    it('logout and log-out-everywhere revoke at once; the session list shows and ends sessions', async () => {
      const phone = await member('list/phone');
      const laptop = await login(phone.email, 'list/laptop');
      const listed = await api.get('/api/users/me/sessions', { tokens: { access: laptop.tokens.access } });
      expect(listed.status).toBe(200);
      expect(listed.body).toHaveLength(2);
      expect(listed.body[0]).toEqual({
        id: expect.any(String),
        browser: null,
        os: null,
        ipAddress: '127.0.0.1',
        lastActive: expect.any(String),
      });

      const phoneSession = (await api.get('/api/auth/status', { tokens: { access: phone.tokens.access } })).body.sessionId;
      const ended = await api.delete(`/api/users/me/sessions/${phoneSession}`, { tokens: { access: laptop.tokens.access } });
      expect(ended.body).toEqual({ success: true });
      expect((await api.get('/api/auth/status', { tokens: { access: phone.tokens.access } })).body.code).toBe(
        'ACCESS_TOKEN_EXPIRED',
      );
      const unknown = await api.delete('/api/users/me/sessions/NoSuchSession123', { tokens: { access: laptop.tokens.access } });
      expect(unknown.body).toEqual(s2Error(404, 'NOT_FOUND', '/api/users/me/sessions/NoSuchSession123'));

      const again = await login(phone.email, 'list/tablet');
      const everywhere = await api.delete('/api/users/me/sessions', { tokens: { access: laptop.tokens.access } });
      expect(everywhere.body).toEqual({ success: true });
      for (const session of [laptop, again]) {
        expect((await api.get('/api/auth/status', { tokens: { access: session.tokens.access } })).body.code).toBe(
          'ACCESS_TOKEN_EXPIRED',
        );
        expect((await api.post('/api/auth/refresh', {}, { tokens: { refresh: session.tokens.refresh } })).body.code).toBe(
          'REFRESH_TOKEN_INVALID',
        );
      }

      const last = await login(phone.email, 'list/desk');
      expect((await api.post('/api/auth/logout', undefined, { tokens: { access: last.tokens.access } })).body).toEqual({
        success: true,
      });
      expect((await api.get('/api/auth/status', { tokens: { access: last.tokens.access } })).body.code).toBe(
        'ACCESS_TOKEN_EXPIRED',
      );
    });

    it('register, login and 2fa/login while already authenticated: ALREADY_AUTHENTICATED (304, code in X-Error-Code)', async () => {
      const who = await member();
      const res = await api.post(
        '/api/auth/register',
        { email: `${uniqueName('x')}@example.com`, password: PASSWORD, name: 'X' },
        { tokens: { access: who.tokens.access } },
      );
      expect(res.status).toBe(304);
      expect(res.headers.get('x-error-code')).toBe('ALREADY_AUTHENTICATED');
    });
  });

  describe('one core under both surfaces', () => {
    it('a code mailed by surface 1 is accepted by surface 2, once', async () => {
      const { email } = await register();
      const started = await api.post('/api/auth/login', { email, password: PASSWORD });
      const surfaceTwoCode = await t.mail.codeFor(email);
      // Rocket.Chat's resend endpoint (past the resend window) mails another code: the user's, good on any surface.
      t.clock.advance(t.config.EMAIL_CODE_RESEND_AFTER_SECONDS + 1);
      const before = t.mail.messages.length;
      await v1.post('/api/v1/users.2fa.sendEmailCode', { emailOrUsername: email });
      const surfaceOneCode = await t.mail.codeFor(email, { after: before });
      expect(surfaceOneCode).not.toBe(surfaceTwoCode);
      const twoFactor = started.body.twoFactorAuthenticationToken;
      const done = await api.post('/api/auth/2fa/login', { email: surfaceOneCode }, { tokens: { twoFactor } });
      expect(done.status).toBe(200);
      // Used: not on surface 1's handshake either.
      const again = await v1.post('/api/v1/login', { user: email, password: PASSWORD, code: surfaceOneCode });
      expect(again.status).toBe(401);
      expect(again.body.error).toBe('totp-invalid');
    });

    it('wrong codes count on both surfaces: attempt limits and the lockout are shared (TOO_MANY_ATTEMPTS)', async () => {
      const { email } = await register();
      const wrongLogins = async (n: number) => {
        for (let i = 0; i < n; i++) await v1.post('/api/v1/login', { user: email, password: PASSWORD, code: '000000' });
      };
      await wrongLogins(t.config.EMAIL_CODE_MAX_ATTEMPTS - 1);
      const started = await api.post('/api/auth/login', { email, password: PASSWORD });
      const code = await t.mail.codeFor(email);
      // The last allowed attempt of the round is spent on surface 2: the outstanding codes die.
      const wrong = await api.post(
        '/api/auth/2fa/login',
        { email: code === '000-000' ? '111111' : '000000' },
        { tokens: { twoFactor: started.body.twoFactorAuthenticationToken } },
      );
      expect(wrong.body).toEqual(s2Error(429, 'TOO_MANY_ATTEMPTS', '/api/auth/2fa/login'));
      const right = await api.post(
        '/api/auth/2fa/login',
        { email: code },
        { tokens: { twoFactor: started.body.twoFactorAuthenticationToken } },
      );
      expect(right.status).toBe(401);

      // The account lockout counts both surfaces' failures too.
      await wrongLogins(t.config.LOCKOUT_THRESHOLD);
      const locked = await api.post('/api/auth/login', { email, password: PASSWORD });
      expect(locked.body).toEqual(s2Error(429, 'TOO_MANY_ATTEMPTS', '/api/auth/login'));
    });
  });

  describe("seed 001's errors", () => {
    it('NO_PASSWORD_PROVIDER for a user without a password', async () => {
      const who = await member();
      await stepUp(who);
      await t.db.query('UPDATE users SET password_hash = NULL WHERE id = $1', [who.userId]);
      const enable = await api.post('/api/auth/2fa/email/enable', { code: '123456' }, as(who));
      expect(enable.body).toEqual(s2Error(400, 'NO_PASSWORD_PROVIDER', '/api/auth/2fa/email/enable'));
      const stepped = await api.post('/api/auth/step-up', { password: PASSWORD }, { tokens: { access: who.tokens.access } });
      expect(stepped.body).toEqual(s2Error(400, 'NO_PASSWORD_PROVIDER', '/api/auth/step-up'));
      const send = await api.post('/api/auth/2fa/email/send', undefined, { tokens: { access: who.tokens.access } });
      expect(send.body).toEqual(s2Error(400, 'NO_PASSWORD_PROVIDER', '/api/auth/2fa/email/send'));
    });

    it('USER_NOT_FOUND when the user is deleted while the request is under way', async () => {
      const who = await member();
      await stepUp(who);
      // Email off first (TOTP on), so enable has something to do.
      await enableTotp(who);
      expect((await api.delete('/api/auth/2fa/email', as(who))).status).toBe(200);
      const before = t.mail.messages.length;
      await api.post('/api/auth/2fa/email/send', undefined, as(who));
      const code = await t.mail.codeFor(who.email, { after: before });

      const methods = t.app.get(TwoFactorMethodsService, { strict: false });
      const original = methods.enableEmail.bind(methods);
      methods.enableEmail = async (...args: Parameters<typeof methods.enableEmail>) => {
        await t.db.query('DELETE FROM users WHERE id = $1', [who.userId]);
        return original(...args);
      };
      try {
        const res = await api.post('/api/auth/2fa/email/enable', { code }, as(who));
        expect(res.body).toEqual(s2Error(404, 'USER_NOT_FOUND', '/api/auth/2fa/email/enable'));
      } finally {
        methods.enableEmail = original;
      }
    });

    it('ACCESS_TOKEN_ALLOWLIST_READING_FAILURE and DATABASE_FAILURE when the database fails', async () => {
      const who = await member();
      await stepUp(who);
      const sessions = t.app.get(SessionsRepository, { strict: false });
      const original = sessions.findLiveById.bind(sessions);
      sessions.findLiveById = () => Promise.reject(new Error('Connection terminated unexpectedly'));
      try {
        const res = await api.post('/api/auth/2fa/email/enable', { code: '123456' }, as(who));
        expect(res.body).toEqual(s2Error(500, 'ACCESS_TOKEN_ALLOWLIST_READING_FAILURE', '/api/auth/2fa/email/enable'));
      } finally {
        sessions.findLiveById = original;
      }
      // The session lookup does not read email_codes; the cooldown does.
      await t.db.query('ALTER TABLE email_codes RENAME TO email_codes_away');
      try {
        const res = await api.get('/api/auth/2fa/email/cooldown', as(who));
        expect(res.body).toEqual(s2Error(500, 'DATABASE_FAILURE', '/api/auth/2fa/email/cooldown'));
        // Nothing of the failure leaks into the answer.
        expect(JSON.stringify(res.body)).not.toMatch(/email_codes|relation|SELECT/);
      } finally {
        await t.db.query('ALTER TABLE email_codes_away RENAME TO email_codes');
      }
    });

    it('DATABASE_ENCRYPTION_FAILURE when a stored TOTP secret does not decrypt', async () => {
      const who = await member();
      await stepUp(who);
      const setup = await enableTotp(who);
      // Moved from another user's row: bound to its owner, it no longer decrypts.
      const other = await member();
      await stepUp(other);
      // Its pending secret is the row the statement below copies from.
      await api.get('/api/auth/2fa/totp/setup', as(other));
      await t.db.query(
        `UPDATE two_factor_methods SET secret_encrypted = (SELECT secret_encrypted FROM two_factor_methods WHERE user_id = $2 AND method = 'totp')
          WHERE user_id = $1 AND method = 'totp'`,
        [who.userId, other.userId],
      );
      const started = await api.post('/api/auth/login', { email: who.email, password: PASSWORD });
      const res = await api.post(
        '/api/auth/2fa/login',
        { totp: totp(setup.body.secret, t.clock.now()) },
        { tokens: { twoFactor: started.body.twoFactorAuthenticationToken } },
      );
      expect(res.body).toEqual(s2Error(500, 'DATABASE_ENCRYPTION_FAILURE', '/api/auth/2fa/login'));
    });

    it('INVALID_USER_DOCUMENT for an unreadable password hash; INVALID_PRINCIPAL_DOCUMENT for a user without an address', async () => {
      const who = await member();
      await t.db.query(`UPDATE users SET password_hash = 'not-an-argon2-hash' WHERE id = $1`, [who.userId]);
      const res = await api.post('/api/auth/login', { email: who.email, password: PASSWORD });
      expect(res.body).toEqual(s2Error(500, 'INVALID_USER_DOCUMENT', '/api/auth/login'));
      await t.db.query('DELETE FROM user_emails WHERE user_id = $1', [who.userId]);
      const status = await api.get('/api/auth/status', { tokens: { access: who.tokens.access } });
      expect(status.body).toEqual(s2Error(500, 'INVALID_PRINCIPAL_DOCUMENT', '/api/auth/status'));
    });

    it('POST_COMMIT_SIDE_EFFECT_FAILURE when the code mail of a login cannot go out (it stays queued)', async () => {
      const { email } = await register();
      t.mail.failNext(1);
      const res = await api.post('/api/auth/login', { email, password: PASSWORD });
      expect(res.body).toEqual(s2Error(500, 'POST_COMMIT_SIDE_EFFECT_FAILURE', '/api/auth/login'));
      const [row] = await t.db.query(`SELECT status FROM mail_outbox WHERE $1 = ANY("to") ORDER BY id DESC LIMIT 1`, [email]);
      expect(row.status).toBe('pending');
    });
  });

  describe('recovery codes, registration and alerts', () => {
    it('2fa/totp/recover logs in with a recovery code once (WRONG_TOTP_RECOVERY_CODE otherwise) and alerts the owner', async () => {
      const who = await member();
      await stepUp(who);
      const setup = await enableTotp(who);
      const started = await api.post('/api/auth/login', { email: who.email, password: PASSWORD });
      expect(started.body.preferredTwoFactorMethod).toBe('totp');
      const twoFactor = started.body.twoFactorAuthenticationToken;
      const wrong = await api.post('/api/auth/2fa/totp/recover', { code: 'ZZZZZZZZZZ' }, { tokens: { twoFactor } });
      expect(wrong.body).toEqual(s2Error(401, 'WRONG_TOTP_RECOVERY_CODE', '/api/auth/2fa/totp/recover'));
      const before = t.mail.messages.length;
      const recovered = await api.post(
        '/api/auth/2fa/totp/recover',
        { code: setup.body.recoveryCodes[0] },
        { tokens: { twoFactor } },
      );
      expect(recovered.status).toBe(200);
      expect(recovered.body).toEqual({
        user: expect.objectContaining({ email: who.email }),
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        stepUpToken: expect.any(String),
      });
      const alert = await t.mail.waitFor((m) => m.to.includes(who.email) && /backup code/i.test(m.text), { after: before });
      expect(alert.text).toMatch(/9/); // codes left
      const again = await api.post('/api/auth/login', { email: who.email, password: PASSWORD });
      const reused = await api.post(
        '/api/auth/2fa/totp/recover',
        { code: setup.body.recoveryCodes[0] },
        { tokens: { twoFactor: again.body.twoFactorAuthenticationToken } },
      );
      expect(reused.body.code).toBe('WRONG_TOTP_RECOVERY_CODE');
    });

    it('registering a taken address answers {success:true} and mails its owner an alert instead', async () => {
      const { email } = await register();
      const before = t.mail.messages.length;
      const res = await api.post('/api/auth/register?locale=de', { email, password: 'another password 123', name: 'Someone' });
      expect(res.body).toEqual({ success: true });
      const alert = await t.mail.waitFor((m) => m.to.includes(email), { after: before });
      expect(alert.html).toContain(email);
      expect(alert.text).toMatch(/Konto|Registrier/);
      const [{ n }] = await t.db.query('SELECT count(*)::int AS n FROM user_emails WHERE lower(address) = lower($1)', [email]);
      expect(n).toBe(1);
    });

    it('a password login without a second factor from a new device alerts the owner; a known device does not', async () => {
      const { email } = await register();
      // A user who switched email 2FA off (surface 1 allows the last method to go).
      await t.db.query(`DELETE FROM two_factor_methods WHERE user_id = (SELECT user_id FROM user_emails WHERE address = $1)`, [
        email,
      ]);
      const mark = t.mail.messages.length;
      const fresh = await api.post(
        '/api/auth/login?locale=es',
        { email, password: PASSWORD, session: { browser: 'Lynx', os: 'Plan 9' } },
        { headers: { 'user-agent': 'brand-new-device/9' } },
      );
      expect(fresh.body.accessToken).toEqual(expect.any(String));
      const alert = await t.mail.waitFor((m) => m.to.includes(email) && m.text.includes('Lynx'), { after: mark });
      expect(alert.text).toContain('Plan 9');
      expect(alert.text).toContain('127.0.0.1');
      expect(alert.html).toContain('lang="es"');
      const known = t.mail.messages.length;
      await api.post('/api/auth/login', { email, password: PASSWORD }, { headers: { 'user-agent': 'brand-new-device/9' } });
      // Surface 1 raises it too, for its own new device.
      await v1.post('/api/v1/login', { user: email, password: PASSWORD }, { headers: { 'user-agent': 'another-device/1' } });
      const rcAlert = await t.mail.waitFor((m) => m.to.includes(email), { after: known });
      expect(rcAlert.text).toContain('127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(t.mail.messages.slice(known).filter((m) => m.to.includes(email))).toHaveLength(1);
    });
  });

  describe('the send cooldown is the same rule under parallel requests', () => {
    it('of 6 parallel sends exactly one mails a code', async () => {
      const who = await member();
      t.clock.advance(t.config.EMAIL_CODE_RESEND_AFTER_SECONDS + 1);
      const before = t.mail.messages.length;
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          api.post('/api/auth/2fa/email/send', undefined, { tokens: { access: who.tokens.access } }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 429, 429, 429, 429, 429].sort());
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(t.mail.messages.slice(before).filter((m) => m.to.includes(who.email) && /\d{3}-\d{3}/.test(m.text))).toHaveLength(1);
    });
  });
});
