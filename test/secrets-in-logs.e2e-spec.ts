import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Credentials, sha256, uniqueName } from './helpers/api.js';
import { totp } from './helpers/rfc6238.js';
import { S2Api, type S2Tokens } from './helpers/s2.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * Full flows of both surfaces at the production log level and at the most verbose one, through the
 * service's own log set-up (JSON lines from pino): no password, digest, code, token, cookie, TOTP
 * secret, backup code or challenge id used may appear in the log, while the log does hold the
 * flows' lines (so a capture that saw nothing cannot pass).
 */
for (const level of ['log', 'verbose'] as const) {
  describe(`secrets never reach the log (LOG_LEVEL=${level})`, () => {
    let t: TestApp;
    const secrets: string[] = [];
    /** Remembers a secret used in a flow, and hands it back. */
    const keep = <T extends string>(value: T): T => {
      secrets.push(value);
      return value;
    };
    const codeFor = async (email: string, before: number) => {
      const code = keep(await t.mail.codeFor(email, { after: before }));
      keep(code.replace('-', ''));
      return code;
    };

    beforeAll(async () => {
      t = await createTestApp({ LOG_LEVEL: level });
    });
    afterAll(async () => t?.close());

    it('surface 1: register, verify, login with a code, a challenge, the 2FA handshake by email and password, PATs, TOTP, backup codes, password change, deletion', async () => {
      const api = new Api(t.baseUrl);
      const agent = { 'user-agent': `secrets/${level}` };
      const username = uniqueName('secret');
      const email = `${username}@example.com`;
      const password = keep(`Secret-Passphrase-${level}-7Q2x`);
      keep(sha256(password));

      const registered = await api.post('/api/v1/users.register', { username, email, pass: password, name: 'Secret Keeper' });
      expect(registered.status).toBe(200);
      const token = keep(new URL(await t.mail.linkFor(email)).searchParams.get('token')!);
      expect((await api.post('/api/v1/users.verifyEmail', { token })).status).toBe(200);

      // Login: 401 totp-required with a challenge, a wrong code, then the mailed one.
      let before = t.mail.messages.length;
      const asked = await api.post('/api/v1/login', { user: username, password }, { headers: agent });
      expect(asked.body.error).toBe('totp-required');
      const challengeId = keep(asked.body.details.challengeId as string);
      const firstCode = await codeFor(email, before);
      const wrongCode = keep(firstCode === '111-111' ? '222-222' : '111-111');
      await api.post('/api/v1/login', { user: username, password, code: wrongCode }, { headers: agent });
      const loggedIn = await api.post('/api/v1/login', { user: username, password, code: firstCode }, { headers: agent });
      expect(loggedIn.status).toBe(200);
      const auth: Credentials = { userId: loggedIn.body.data.userId, authToken: keep(loggedIn.body.data.authToken) };
      keep(sha256(auth.authToken));

      // A second login finished through its challenge.
      before = t.mail.messages.length;
      const second = await api.post('/api/v1/login', { user: username, password }, { headers: agent });
      const secondChallenge = keep(second.body.details.challengeId as string);
      expect(secondChallenge).not.toBe(challengeId);
      const challengeCode = await codeFor(email, before);
      await api.post('/api/v1/twoFactorChallenges.verifyChallenge', { challengeId: secondChallenge, code: wrongCode });
      const viaChallenge = await api.post('/api/v1/twoFactorChallenges.verifyChallenge', {
        challengeId: secondChallenge,
        code: challengeCode,
      });
      expect(viaChallenge.status).toBe(200);
      keep(viaChallenge.body.loginToken);

      const pat = await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'ci' }, { auth, headers: agent });
      expect(pat.status).toBe(200);
      keep(pat.body.token);
      const regenerated = await api.post(
        '/api/v1/users.regeneratePersonalAccessToken',
        { tokenName: 'ci' },
        { auth, headers: agent },
      );
      keep(regenerated.body.token);
      expect((await api.get('/api/v1/me', { auth: { userId: auth.userId, authToken: regenerated.body.token } })).status).toBe(
        200,
      );
      expect((await api.post('/api/v1/login', { resume: auth.authToken })).status).toBe(200);

      // The handshake on a route that asks every time: 400 totp-required, then the mailed code in x-2fa-code.
      before = t.mail.messages.length;
      const required = await api.post('/api/v1/users.2fa.disableEmail', undefined, { auth, headers: agent });
      expect(required.status).toBe(400);
      expect(required.body.errorType).toBe('totp-required');
      const disableCode = await codeFor(email, before);
      const disabled = await api.post('/api/v1/users.2fa.disableEmail', undefined, {
        auth,
        headers: { ...agent, 'x-2fa-method': 'email', 'x-2fa-code': disableCode },
      });
      expect(disabled.status).toBe(200);
      // No method left: the handshake falls back to the password's digest (another client, nothing remembered).
      const otherAgent = { 'user-agent': `secrets-other/${level}` };
      const byPassword = await api.post(
        '/api/v1/users.generatePersonalAccessToken',
        { tokenName: 'by-password' },
        { auth, headers: { ...otherAgent, 'x-2fa-method': 'password', 'x-2fa-code': sha256(password) } },
      );
      expect(byPassword.status).toBe(200);
      keep(byPassword.body.token);
      expect((await api.post('/api/v1/users.2fa.enableEmail', undefined, { auth, headers: agent })).status).toBe(200);

      const setup = await api.post('/api/v1/users.2fa.enableTOTP', undefined, { auth, headers: agent });
      const secret = keep(setup.body.secret as string);
      const totpCode = keep(totp(secret, t.clock.now()));
      // Switching email off and on again ended the remembered second factor: the handshake once more.
      before = t.mail.messages.length;
      const askedAgain = await api.post('/api/v1/users.2fa.validateTOTP', { code: totpCode }, { auth, headers: agent });
      expect(askedAgain.body.errorType).toBe('totp-required');
      const validated = await api.post(
        '/api/v1/users.2fa.validateTOTP',
        { code: totpCode },
        { auth, headers: { ...agent, 'x-2fa-method': 'email', 'x-2fa-code': await codeFor(email, before) } },
      );
      expect(validated.status).toBe(200);
      const backupCodes = (validated.body.backupCodes as string[]).map(keep);
      t.clock.advance(31);
      const withBackup = await api.post('/api/v1/users.2fa.regenerateBackupCodes', undefined, {
        auth,
        headers: { ...agent, 'x-2fa-method': 'totp', 'x-2fa-code': backupCodes[0]! },
      });
      expect(withBackup.status).toBe(200);
      (withBackup.body.backupCodes as string[]).forEach(keep);

      const newPassword = keep(`New-Secret-Passphrase-${level}-9Z`);
      keep(sha256(newPassword));
      const changed = await api.post(
        '/api/v1/users.updateOwnBasicInfo',
        { data: { newPassword, currentPassword: sha256(password) } },
        { auth, headers: { ...agent, 'x-2fa-method': 'totp', 'x-2fa-code': keep(totp(secret, t.clock.now())) } },
      );
      expect(changed.status).toBe(200);
      // Hostile and malformed input with secrets in it.
      await api.post('/api/v1/login', undefined, {
        rawBody: `{"user":"${username}","password":"${newPassword}"`,
        headers: agent,
      });
      await api.post('/api/v1/login', { user: `${username}\u0000`, password: newPassword }, { headers: agent });
      await api.get('/api/v1/me', { auth: { userId: auth.userId, authToken: keep(`${auth.authToken}x`) } });
      await api.get(`/api/v1/users.verifyEmail?token=${token}`);

      t.clock.advance(31);
      const deleted = await api.post(
        '/api/v1/users.deleteOwnAccount',
        { password: sha256(newPassword) },
        { auth, headers: { ...agent, 'x-2fa-method': 'totp', 'x-2fa-code': keep(totp(secret, t.clock.now())) } },
      );
      expect(deleted.status).toBe(200);
    });

    it('surface 2: register, login with the mailed code, refresh, step-up, TOTP set-up, email off and on, recovery, sessions, logout', async () => {
      // Cookies (as a browser) for the flow, headers (Authorization: Bearer …) where noted.
      const api = new S2Api(t.baseUrl, 'cookies');
      const email = `${uniqueName('s2secret')}@example.com`;
      const password = keep(`S2-Secret-Passphrase-${level}-4Kx`);
      keep(sha256(password));
      const tokens = (body: Record<string, unknown>): S2Tokens => {
        const found: S2Tokens = {
          access: body.accessToken as string | undefined,
          refresh: body.refreshToken as string | undefined,
          stepUp: body.stepUpToken as string | undefined,
          twoFactor: body.twoFactorAuthenticationToken as string | undefined,
        };
        for (const value of Object.values(found)) if (value) keep(value);
        return found;
      };

      expect((await api.post('/api/auth/register', { email, password, name: 'S2 Secret' })).status).toBe(200);
      const token = keep(new URL(await t.mail.linkFor(email)).searchParams.get('token')!);
      expect((await api.post('/api/v1/users.verifyEmail', { token })).status).toBe(200);

      let before = t.mail.messages.length;
      const wrongLogin = await api.post('/api/auth/login', { email, password: `${password}-wrong` });
      expect(wrongLogin.status).toBe(401);
      keep(`${password}-wrong`);
      const started = await api.post('/api/auth/login', { email, password });
      tokens(started.body);
      const loginCode = await codeFor(email, before);
      const loggedIn = await api.post('/api/auth/2fa/login', { email: loginCode.replace('-', '') });
      expect(loggedIn.status).toBe(200);
      tokens(loggedIn.body);
      for (const cookie of api.jar.values()) keep(cookie);

      // Refresh, once with the cookie and once as an app with the refresh token as Bearer.
      const refreshed = await api.post('/api/auth/refresh', {});
      expect(refreshed.status).toBe(200);
      tokens(refreshed.body);
      const asApp = new S2Api(t.baseUrl, 'headers');
      const appRefresh = await asApp.post('/api/auth/refresh', {}, { tokens: { refresh: refreshed.body.refreshToken } });
      expect(appRefresh.status).toBe(200);
      tokens(appRefresh.body);

      // Step-up: the password, then the mailed code.
      before = t.mail.messages.length;
      const stepUp = await api.post('/api/auth/step-up', { password });
      expect(stepUp.status).toBe(200);
      tokens(stepUp.body);
      const stepUpCode = await codeFor(email, before);
      const steppedUp = await api.post('/api/auth/2fa/step-up', { email: stepUpCode });
      expect(steppedUp.status).toBe(200);
      tokens(steppedUp.body);
      for (const cookie of api.jar.values()) keep(cookie);

      // TOTP set-up (a wrong code first), then email off, a code sent and email on again.
      const setup = await api.get('/api/auth/2fa/totp/setup');
      const secret = keep(setup.body.secret as string);
      keep(setup.body.token as string);
      const recoveryCodes = (setup.body.recoveryCodes as string[]).map(keep);
      await api.post('/api/auth/2fa/totp/setup', { token: setup.body.token, code: '000000' });
      const totpCode = keep(totp(secret, t.clock.now()));
      const confirmed = await api.post('/api/auth/2fa/totp/setup', { token: setup.body.token, code: Number(totpCode) });
      expect(confirmed.status).toBe(200);
      expect((await api.delete('/api/auth/2fa/email')).status).toBe(200);
      before = t.mail.messages.length;
      expect((await api.post('/api/auth/2fa/email/send')).status).toBe(200);
      const enableCode = await codeFor(email, before);
      await api.post('/api/auth/2fa/email/enable', { code: enableCode === '111-111' ? '222222' : '111111' });
      const enabled = await api.post('/api/auth/2fa/email/enable', { code: enableCode });
      expect(enabled.status).toBe(200);

      // A login finished with a recovery code (TOTP is the preferred method now).
      const login3 = await asApp.post('/api/auth/login', { email, password });
      const pending = tokens(login3.body);
      const recovered = await asApp.post(
        '/api/auth/2fa/totp/recover',
        { code: recoveryCodes[0] },
        { tokens: { twoFactor: pending.twoFactor } },
      );
      expect(recovered.status).toBe(200);
      const appTokens = tokens(recovered.body);

      const sessions = await asApp.get('/api/users/me/sessions', { tokens: { access: appTokens.access } });
      expect(sessions.status).toBe(200);
      const other = (sessions.body as Array<{ id: string; current?: boolean }>).find((session) => !session.current);
      if (other) await asApp.delete(`/api/users/me/sessions/${other.id}`, { tokens: { access: appTokens.access } });
      await asApp.get('/api/auth/status', { headers: { cookie: `access_token=${keep(`${appTokens.access}x`)}` } });

      const out = await api.post('/api/auth/logout');
      expect(out.status).toBe(200);
      expect((await asApp.post('/api/auth/logout', undefined, { tokens: { access: appTokens.access } })).status).toBe(200);
    });

    it('wrote JSON lines holding the flows, and none of their secrets', async () => {
      // The access line of the last request is written once its response closed.
      await t.logs.waitFor((entry) => entry.msg === 'request completed' && entry.route === '/api/auth/logout');
      const entries = t.logs.entries();
      const completed = entries.filter((entry) => entry.msg === 'request completed');
      const routes = new Set(
        completed.map((entry) => `${entry.method as string} ${entry.route as string} ${entry.status as number}`),
      );
      for (const line of [
        'POST /api/v1/login 401',
        'POST /api/v1/login 200',
        'POST /api/v1/users.2fa.disableEmail 400',
        'POST /api/v1/users.updateOwnBasicInfo 200',
        'POST /api/auth/2fa/login 200',
        'POST /api/auth/refresh 200',
        'POST /api/auth/2fa/step-up 200',
        'POST /api/auth/2fa/totp/recover 200',
        'POST /api/auth/logout 200',
      ]) {
        expect(routes, line).toContain(line);
      }
      expect(entries.some((entry) => entry.context === 'Mail' && String(entry.msg).startsWith('Delivered message'))).toBe(true);
      if (level === 'verbose') {
        expect(
          entries.some((entry) => entry.level === 'trace' && String(entry.msg).includes('second_factor_verified (success)')),
        ).toBe(true);
      } else {
        expect(entries.some((entry) => entry.level === 'trace' || entry.level === 'debug')).toBe(false);
      }

      const output = t.logs.text();
      expect(secrets.length).toBeGreaterThan(50);
      for (const value of new Set(secrets)) {
        expect(value.length).toBeGreaterThanOrEqual(6);
        // Whole words only: a six-digit code must not be "found" inside a timestamp or a port.
        const pattern = new RegExp(`(?<![\\w-])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`);
        expect(pattern.test(output), `a secret of length ${value.length} appears in the log`).toBe(false);
      }
    });
  });
}
