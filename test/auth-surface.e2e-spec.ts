import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from './helpers/api.js';
import { totp } from './helpers/rfc6238.js';
import { S2Api, s2Error, type S2Tokens, type TokenCarriage } from './helpers/s2.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const PASSWORD = 'correct horse battery staple';

/**
 * Seed 001's flow on surface 2 (`/api/auth`), over real HTTP, once with the tokens in cookies (as a
 * browser) and once in headers (as an app): register → verify → login → 2fa/login with the mailed
 * code → step-up with the password → 2fa/step-up → TOTP set-up (so email can go off and come back)
 * → send (and the cooldown) → enable with a wrong, an expired and the right code → the alert →
 * the access tokens revoked → refresh → status.
 */
for (const carriage of ['cookies', 'headers'] as TokenCarriage[]) {
  describe(`surface 2: the seed 001 flow, tokens in ${carriage}`, () => {
    let t: TestApp;
    let api: S2Api;
    const tokens: S2Tokens = {};
    /** The tokens a route reads (the refresh token only goes to /refresh). */
    const send = (): { tokens?: S2Tokens } => (carriage === 'headers' ? { tokens: { ...tokens, refresh: undefined } } : {});
    const username = uniqueName('sing');
    /** The TOTP secret set up in this flow (the server shows it once). */
    let secret = '';
    const email = `${username}@example.com`;

    beforeAll(async () => {
      t = await createTestApp();
      api = new S2Api(t.baseUrl, carriage);
    });
    afterAll(async () => t?.close());

    const codeAfter = (before: number) => t.mail.codeFor(email, { after: before });

    it('registers (always {success:true}) and verifies the address', async () => {
      const res = await api.post('/api/auth/register', { email, password: PASSWORD, name: 'Sing Ular' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      const link = new URL(await t.mail.linkFor(email));
      expect(link.pathname).toBe('/verify-email');
      const verified = await api.post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') });
      expect(verified.status).toBe(200);
    });

    it('logs in: email 2FA is on, so a two-factor token and a mailed code, no access token', async () => {
      const before = t.mail.messages.length;
      const res = await api.post('/api/auth/login', { email, password: PASSWORD, session: { browser: 'Firefox', os: 'Linux' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        user: expect.objectContaining({
          email,
          name: 'Sing Ular',
          emailVerified: true,
          twoFactorAuthEnabled: true,
          twoFactorMethods: ['email'],
        }),
        accessToken: null,
        refreshToken: null,
        twoFactorRequired: true,
        twoFactorMethods: ['email'],
        preferredTwoFactorMethod: 'email',
        twoFactorAuthenticationToken: expect.any(String),
        location: null,
      });
      tokens.twoFactor = res.body.twoFactorAuthenticationToken;
      if (carriage === 'cookies') expect(api.cookie('twoFactor')).toBe(tokens.twoFactor);
      expect(api.cookie('access')).toBeUndefined();
      const code = await codeAfter(before);
      // The same code is not accepted twice; a missing code is NO_2FA_CODE_PROVIDED.
      const none = await api.post('/api/auth/2fa/login', {}, send());
      expect(none.status).toBe(400);
      expect(none.body).toEqual(s2Error(400, 'NO_2FA_CODE_PROVIDED', '/api/auth/2fa/login'));

      const done = await api.post('/api/auth/2fa/login', { email: code.replace('-', '') }, send());
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({
        twoFactorRequired: false,
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
      });
      tokens.access = done.body.accessToken;
      tokens.refresh = done.body.refreshToken;
      delete tokens.twoFactor;
      if (carriage === 'cookies') {
        expect(api.cookie('access')).toBe(tokens.access);
        expect(api.cookie('twoFactor')).toBeUndefined();
        const accessCookie = api.setCookies.find((line) => line.startsWith('access_token=ey'))!;
        expect(accessCookie).toMatch(/; Max-Age=(899|900)(;|$)/);
        expect(accessCookie).toMatch(/; Path=\//);
        expect(accessCookie).toMatch(/; HttpOnly/);
        expect(accessCookie).toMatch(/; SameSite=Strict/);
        expect(accessCookie).not.toMatch(/Secure/);
      }
      // Once used, the two-factor token's attempt is over (asked by a client holding nothing else).
      const again = await new S2Api(t.baseUrl, 'headers').post(
        '/api/auth/2fa/login',
        { email: code },
        { tokens: { twoFactor: res.body.twoFactorAuthenticationToken } },
      );
      expect(again.status).toBe(401);
      expect(again.body.code).toBe('TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID');
    });

    it('status shows an authenticated session without step-up', async () => {
      const res = await api.get('/api/auth/status', send());
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        authenticated: true,
        stepUp: false,
        emailVerified: true,
        twoFactorRequired: false,
        preferredTwoFactorMethod: 'email',
        twoFactorMethods: ['email'],
        sessionId: expect.stringMatching(/^\w{17}$/),
      });
    });

    it('a protected change without a step-up token is STEP_UP_TOKEN_MISSING', async () => {
      const res = await api.post('/api/auth/2fa/email/enable', { code: '123456' }, send());
      expect(res.status).toBe(401);
      expect(res.body).toEqual(s2Error(401, 'STEP_UP_TOKEN_MISSING', '/api/auth/2fa/email/enable'));
    });

    it('steps up with the password, then the mailed code', async () => {
      const wrong = await api.post('/api/auth/step-up', { password: 'not it at all' }, send());
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual(s2Error(401, 'INVALID_CREDENTIALS', '/api/auth/step-up'));

      const before = t.mail.messages.length;
      const res = await api.post('/api/auth/step-up?locale=de', { password: PASSWORD }, send());
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        stepUpToken: null,
        twoFactorRequired: true,
        twoFactorMethods: ['email'],
        preferredTwoFactorMethod: 'email',
        twoFactorAuthenticationToken: expect.any(String),
      });
      tokens.twoFactor = res.body.twoFactorAuthenticationToken;
      const mail = await t.mail.waitFor((m) => m.to.includes(email) && /\d{3}-\d{3}/.test(m.text), { after: before });
      // ?locale=de: the code mail is German.
      expect(mail.text).toMatch(/Geben Sie diesen Code an niemanden weiter/);
      const code = /(\d{3}-\d{3})/.exec(mail.text)![1]!;

      const done = await api.post('/api/auth/2fa/step-up', { email: code }, send());
      expect(done.status).toBe(200);
      expect(done.body).toEqual({
        stepUpToken: expect.any(String),
        twoFactorRequired: false,
        twoFactorMethods: null,
        preferredTwoFactorMethod: null,
        twoFactorAuthenticationToken: null,
      });
      tokens.stepUp = done.body.stepUpToken;
      delete tokens.twoFactor;
      const status = await api.get('/api/auth/status', send());
      expect(status.body).toMatchObject({ authenticated: true, stepUp: true });
    });

    it('sets up TOTP (with recovery codes), which then allows email to go off', async () => {
      const already = await api.post('/api/auth/2fa/email/enable', { code: '123456' }, send());
      expect(already.status).toBe(304);
      expect(already.headers.get('x-error-code')).toBe('TWO_FACTOR_METHOD_ALREADY_ENABLED');
      expect(already.body).toBeUndefined();
      const only = await api.delete('/api/auth/2fa/email', send());
      expect(only.status).toBe(400);
      expect(only.body).toEqual(s2Error(400, 'CANNOT_DISABLE_ONLY_TWO_FACTOR_METHOD', '/api/auth/2fa/email'));

      const setup = await api.get('/api/auth/2fa/totp/setup', send());
      expect(setup.status).toBe(200);
      expect(setup.body).toEqual({
        secret: expect.stringMatching(/^[A-Z2-7]{32}$/),
        totpAuthUrl: expect.stringMatching(/^otpauth:\/\/totp\//),
        recoveryCodes: expect.arrayContaining([expect.stringMatching(/^[A-Z2-9]{10}$/)]),
        token: expect.any(String),
      });
      const wrongCode = await api.post('/api/auth/2fa/totp/setup', { token: setup.body.token, code: '000000' }, send());
      expect(wrongCode.status).toBe(401);
      expect(wrongCode.body.code).toBe('WRONG_TWO_FACTOR_CODE');
      const badToken = await api.post('/api/auth/2fa/totp/setup', { token: `${setup.body.token}x`, code: 0 }, send());
      expect(badToken.body.code).toBe('TOTP_SETUP_TOKEN_INVALID');
      const confirmed = await api.post(
        '/api/auth/2fa/totp/setup',
        { token: setup.body.token, code: Number(totp(setup.body.secret, t.clock.now())) },
        send(),
      );
      expect(confirmed.status).toBe(200);
      expect(confirmed.body).toMatchObject({ twoFactorMethods: ['totp', 'email'], preferredTwoFactorMethod: 'totp' });
      secret = setup.body.secret;

      const off = await api.delete('/api/auth/2fa/email', send());
      expect(off.status).toBe(200);
      expect(off.body).toMatchObject({ twoFactorMethods: ['totp'] });
      const again = await api.delete('/api/auth/2fa/email', send());
      expect(again.status).toBe(304);
      expect(again.headers.get('x-error-code')).toBe('TWO_FACTOR_METHOD_ALREADY_DISABLED');
    });

    it('sends a code with a 60 s cooldown, then enables email with a wrong, an expired and the right code', async () => {
      const before = t.mail.messages.length;
      const sent = await api.post('/api/auth/2fa/email/send', undefined, send());
      expect(sent.status).toBe(200);
      expect(sent.body).toEqual({ cooldown: 60 });
      const first = await codeAfter(before);
      const cooling = await api.post('/api/auth/2fa/email/send', undefined, send());
      expect(cooling.status).toBe(429);
      expect(cooling.body).toEqual(s2Error(429, 'EMAIL_COOLDOWN_ACTIVE', '/api/auth/2fa/email/send'));
      const left = await api.get('/api/auth/2fa/email/cooldown', send());
      expect(left.body.remaining).toBeGreaterThan(55);
      expect(left.body.remaining).toBeLessThanOrEqual(60);

      const wrong = await api.post('/api/auth/2fa/email/enable', { code: first === '111-111' ? '222222' : '111111' }, send());
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual(s2Error(401, 'WRONG_TWO_FACTOR_CODE', '/api/auth/2fa/email/enable'));

      // Past its lifetime: a right but expired code is told apart from a wrong one.
      t.clock.advance(t.config.EMAIL_CODE_TTL_SECONDS + 1);
      const lateCode = await api.post('/api/auth/2fa/email/enable', { code: first }, send());
      expect(lateCode.status).toBe(401);
      expect(lateCode.body).toEqual(s2Error(401, 'TWO_FACTOR_CODE_EXPIRED', '/api/auth/2fa/email/enable'));

      // Past the access and step-up tokens' 15 minutes too: refresh, and step up again (TOTP now).
      t.clock.advance(t.config.ACCESS_TOKEN_TTL_SECONDS - t.config.EMAIL_CODE_TTL_SECONDS);
      const stale = await api.post('/api/auth/2fa/email/enable', { code: first }, send());
      expect(stale.body).toEqual(s2Error(401, 'ACCESS_TOKEN_EXPIRED', '/api/auth/2fa/email/enable'));
      const refreshed = await api.post(
        '/api/auth/refresh',
        {},
        carriage === 'headers' ? { tokens: { refresh: tokens.refresh } } : {},
      );
      expect(refreshed.status).toBe(200);
      tokens.access = refreshed.body.accessToken;
      tokens.refresh = refreshed.body.refreshToken;
      const stepUpExpired = await api.post('/api/auth/2fa/email/enable', { code: first }, send());
      expect(stepUpExpired.body).toEqual(s2Error(401, 'STEP_UP_TOKEN_EXPIRED', '/api/auth/2fa/email/enable'));
      const stepped = await api.post('/api/auth/step-up', { password: PASSWORD }, send());
      tokens.twoFactor = stepped.body.twoFactorAuthenticationToken;
      expect(stepped.body.preferredTwoFactorMethod).toBe('totp');
      const viaTotp = await api.post('/api/auth/2fa/step-up', { totp: Number(totp(secret, t.clock.now())) }, send());
      expect(viaTotp.status).toBe(200);
      tokens.stepUp = viaTotp.body.stepUpToken;
      delete tokens.twoFactor;

      const mailsBefore = t.mail.messages.length;
      expect((await api.post('/api/auth/2fa/email/send?locale=fr', undefined, send())).status).toBe(200);
      const right = await codeAfter(mailsBefore);
      const enabled = await api.post('/api/auth/2fa/email/enable?locale=fr', { code: right }, send());
      expect(enabled.status).toBe(200);
      expect(enabled.body).toMatchObject({ email, twoFactorMethods: ['totp', 'email'], twoFactorAuthEnabled: true });
      // The security alert, in the request's language, HTML and text.
      const alert = await t.mail.waitFor(
        (m) => m.to.includes(email) && m.subject === "Une méthode d'authentification à deux facteurs a été activée",
        { after: mailsBefore },
      );
      expect(alert.html).toContain('lang="fr"');
      expect(alert.text).toMatch(/e-mail/i);

      // Enabling email revokes every access token of the user: the client refreshes.
      const revoked = await api.get('/api/auth/status', send());
      expect(revoked.status).toBe(401);
      expect(revoked.body.code).toBe('ACCESS_TOKEN_EXPIRED');
      const refreshedAgain = await api.post(
        '/api/auth/refresh',
        {},
        carriage === 'headers' ? { tokens: { refresh: tokens.refresh } } : {},
      );
      expect(refreshedAgain.status).toBe(200);
      expect(refreshedAgain.body.principal).toMatchObject({ twoFactorMethods: ['totp', 'email'] });
      tokens.access = refreshedAgain.body.accessToken;
      tokens.refresh = refreshedAgain.body.refreshToken;
      const status = await api.get('/api/auth/status', send());
      expect(status.body).toMatchObject({
        authenticated: true,
        twoFactorMethods: ['totp', 'email'],
        preferredTwoFactorMethod: 'totp',
      });
    });

    it('logs out: the session ends at once and every cookie is cleared', async () => {
      const out = await api.post('/api/auth/logout', undefined, send());
      expect(out.status).toBe(200);
      expect(out.body).toEqual({ success: true });
      if (carriage === 'cookies') expect(api.jar.size).toBe(0);
      const after = await api.get('/api/auth/status', { tokens: { access: tokens.access } });
      expect(after.status).toBe(401);
      expect(after.body.code).toBe('ACCESS_TOKEN_EXPIRED');
      const refresh = await api.post('/api/auth/refresh', {}, { tokens: { refresh: tokens.refresh } });
      expect(refresh.status).toBe(401);
      expect(refresh.body.code).toBe('REFRESH_TOKEN_INVALID');
    });
  });
}
