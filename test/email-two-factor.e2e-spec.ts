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
import { PAT_ROUTE } from './helpers/routes.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * Email as a second factor on surface 1 (API.md "Endpoints": users.2fa.enableEmail,
 * users.2fa.disableEmail, users.2fa.sendEmailCode; "Emails"; the 503 on a mail outage).
 */

const ENABLE = '/api/v1/users.2fa.enableEmail';
const DISABLE = '/api/v1/users.2fa.disableEmail';
const SEND_CODE = '/api/v1/users.2fa.sendEmailCode';
const MAIL_FROM = '"Security Desk" <security-desk@example.com>';

const NOT_LOGGED_IN = { status: 'error', message: 'You must be logged in to do this.' };

const totpRequired = (email: string, codeGenerated = true) => ({
  success: false,
  error: 'TOTP Required [totp-required]',
  errorType: 'totp-required',
  details: { method: 'email', codeGenerated, emailOrUsername: email, availableMethods: ['email'] },
});

const emailSendFailed = {
  success: false,
  errorType: 'error-email-send-failed',
  error: expect.stringMatching(/^\S.* \[error-email-send-failed\]$/),
};

/** Registers a user whose email is still unverified (no link followed). */
async function registerUnverified(api: Api): Promise<TestUser> {
  const username = uniqueName('unverified');
  const user = { username, email: `${username}@example.com`, password: 'correct horse battery', userId: '' };
  const res = await api.post('/api/v1/users.register', { username, email: user.email, pass: user.password, name: username });
  expect(res.status).toBe(200);
  return { ...user, userId: res.body.user._id };
}

/** A second address, already verified (there is no API to add one yet). */
async function addVerifiedAddress(t: TestApp, user: TestUser, address: string): Promise<void> {
  await t.db.query(`INSERT INTO user_emails (user_id, address, verified_at, is_primary) VALUES ($1, $2, now(), false)`, [
    user.userId,
    address,
  ]);
}

async function login(api: Api, user: TestUser, headers: Record<string, string> = {}): Promise<Credentials> {
  const res = await api.post('/api/v1/login', { user: user.username, password: user.password }, { headers });
  expect(res.status).toBe(200);
  return { userId: res.body.data.userId, authToken: res.body.data.authToken };
}

describe('email two-factor (surface 1)', () => {
  let t: TestApp;
  let api: Api;
  /** TWO_FACTOR_EMAIL_AUTO_OPT_IN=false: users start without email 2FA. */
  let noOptIn: TestApp;
  let noOptInApi: Api;

  beforeAll(async () => {
    [t, noOptIn] = await Promise.all([createTestApp({ MAIL_FROM }), createTestApp({ TWO_FACTOR_EMAIL_AUTO_OPT_IN: 'false' })]);
    api = new Api(t.baseUrl);
    noOptInApi = new Api(noOptIn.baseUrl);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), noOptIn?.close()]);
  });

  describe('users.2fa.enableEmail', () => {
    it('answers 401 without credentials or with a wrong token', async () => {
      const anonymous = await noOptInApi.post(ENABLE);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toEqual(NOT_LOGGED_IN);

      const user = await registerVerifiedUser(noOptInApi, noOptIn);
      const forged = await noOptInApi.post(ENABLE, undefined, { auth: { userId: user.userId, authToken: 'not-a-token' } });
      expect(forged.status).toBe(401);
      expect(forged.body).toEqual(NOT_LOGGED_IN);
    });

    it('refuses a user without a verified email', async () => {
      const user = await registerUnverified(noOptInApi);
      const auth = await login(noOptInApi, user);

      const res = await noOptInApi.post(ENABLE, undefined, { auth });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        success: false,
        error: 'You need a verified email to enable 2FA by email [error-invalid-user]',
        errorType: 'error-invalid-user',
      });
      const me = await noOptInApi.get('/api/v1/me', { auth });
      expect(me.body.services.email2fa).toEqual({ enabled: false });
    });

    it('enables email 2FA and ends every other login session, not this one nor personal access tokens', async () => {
      const user = await registerVerifiedUser(noOptInApi, noOptIn);
      const current = await login(noOptInApi, user, { 'user-agent': 'enable-email/current' });
      const other = await login(noOptInApi, user, { 'user-agent': 'enable-email/other' });
      const third = await login(noOptInApi, user, { 'user-agent': 'enable-email/third' });
      // No method enabled yet: the password stands in for the second factor.
      const pat = await noOptInApi.post(
        PAT_ROUTE,
        { tokenName: 'ci' },
        { auth: current, headers: { 'x-2fa-method': 'password', 'x-2fa-code': sha256(user.password) } },
      );
      expect(pat.status).toBe(200);
      const patAuth = { userId: user.userId, authToken: pat.body.token as string };

      const before = await noOptInApi.get('/api/v1/me', { auth: current });
      expect(before.body.services.email2fa).toEqual({ enabled: false });

      const res = await noOptInApi.post(ENABLE, undefined, { auth: current });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });

      const me = await noOptInApi.get('/api/v1/me', { auth: current });
      expect(me.status).toBe(200);
      expect(me.body.services.email2fa).toEqual({ enabled: true });

      for (const ended of [other, third]) {
        const stale = await noOptInApi.get('/api/v1/me', { auth: ended });
        expect(stale.status).toBe(401);
        expect(stale.body).toEqual(NOT_LOGGED_IN);
      }
      const viaPat = await noOptInApi.get('/api/v1/me', { auth: patAuth });
      expect(viaPat.status).toBe(200);
      expect(viaPat.body).toMatchObject({ _id: user.userId, services: { email2fa: { enabled: true } } });

      // A new login now needs the emailed code.
      const again = await noOptInApi.post('/api/v1/login', { user: user.username, password: user.password });
      expect(again.status).toBe(401);
      expect(again.body).toMatchObject({ status: 'error', error: 'totp-required', details: { method: 'email' } });
    });

    it('re-enables after a disable (auto opt-in app) and ends the other sessions', async () => {
      const user = await registerVerifiedUser(api, t);
      const current = await loginWithEmailCode(api, t, user, { 'user-agent': 'reenable/current' });
      const other = await loginWithEmailCode(api, t, user, { 'user-agent': 'reenable/other' });

      const before = t.mail.messages.length;
      const ask = await api.post(DISABLE, undefined, { auth: current, headers: { 'user-agent': 'reenable/current' } });
      expect(ask.status).toBe(400);
      const code = await t.mail.codeFor(user.email, { after: before });
      const disabled = await api.post(DISABLE, undefined, {
        auth: current,
        headers: { 'user-agent': 'reenable/current', 'x-2fa-method': 'email', 'x-2fa-code': code },
      });
      expect(disabled.body).toEqual({ success: true });
      // Disabling alone does not end other sessions.
      expect((await api.get('/api/v1/me', { auth: other })).status).toBe(200);

      const res = await api.post(ENABLE, undefined, { auth: current });
      expect(res.body).toEqual({ success: true });
      expect((await api.get('/api/v1/me', { auth: current })).body.services.email2fa).toEqual({ enabled: true });
      const stale = await api.get('/api/v1/me', { auth: other });
      expect(stale.status).toBe(401);
      expect(stale.body).toEqual(NOT_LOGGED_IN);
    });
  });

  describe('users.2fa.disableEmail', () => {
    it('asks for the second factor every time, then disables with the emailed code; later 2FA falls back to the password', async () => {
      const user = await registerVerifiedUser(api, t);
      const agent = { 'user-agent': 'disable-email/1' };
      const auth = await loginWithEmailCode(api, t, user, agent);

      // The login's code is remembered for this client: a rememberable route passes without a code...
      const remembered = await api.post(PAT_ROUTE, { tokenName: 'remembered' }, { auth, headers: agent });
      expect(remembered.status).toBe(200);
      expect(remembered.body).toMatchObject({ success: true, token: expect.any(String) });

      // ...but disableEmail is not rememberable.
      const before = t.mail.messages.length;
      const ask = await api.post(DISABLE, undefined, { auth, headers: agent });
      expect(ask.status).toBe(400);
      expect(ask.body).toEqual(totpRequired(user.email));
      const code = await t.mail.codeFor(user.email, { after: before });

      const wrong = await api.post(DISABLE, undefined, {
        auth,
        headers: { ...agent, 'x-2fa-method': 'email', 'x-2fa-code': code === '000-000' ? '111-111' : '000-000' },
      });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual({
        success: false,
        error: 'TOTP Invalid [totp-invalid]',
        errorType: 'totp-invalid',
        details: { method: 'email', codeGenerated: false, emailOrUsername: user.email, availableMethods: ['email'] },
      });

      const res = await api.post(DISABLE, undefined, {
        auth,
        headers: { ...agent, 'x-2fa-method': 'email', 'x-2fa-code': code },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });

      const me = await api.get('/api/v1/me', { auth });
      expect(me.body.services.email2fa).toEqual({ enabled: false });

      // No method left: the handshake offers the password, and no mail goes out.
      await t.mailSettled();
      const mailBefore = t.mail.count(user.email);
      const fallback = await api.post(DISABLE, undefined, { auth, headers: agent });
      expect(fallback.status).toBe(400);
      expect(fallback.body).toEqual({
        success: false,
        error: 'TOTP Required [totp-required]',
        errorType: 'totp-required',
        details: { method: 'password', codeGenerated: false, emailOrUsername: user.email, availableMethods: [] },
      });
      const viaPassword = await api.post(DISABLE, undefined, {
        auth,
        headers: { ...agent, 'x-2fa-method': 'password', 'x-2fa-code': sha256(user.password) },
      });
      expect(viaPassword.status).toBe(200);
      expect(viaPassword.body).toEqual({ success: true });
      expect(t.mail.count(user.email)).toBe(mailBefore);

      // And login no longer asks for a code.
      const relogin = await api.post('/api/v1/login', { user: user.username, password: user.password });
      expect(relogin.status).toBe(200);
      expect(relogin.body.status).toBe('success');
    });

    it('answers 401 without credentials', async () => {
      const res = await api.post(DISABLE);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(NOT_LOGGED_IN);
    });
  });

  describe('users.2fa.sendEmailCode', () => {
    it('answers the same for a known username, a known email and an unknown user', async () => {
      const byName = await registerVerifiedUser(api, t);
      const byEmail = await registerVerifiedUser(api, t);
      const unknown = `${uniqueName('nobody')}@example.com`;
      const before = t.mail.messages.length;

      const responses = [
        await api.post(SEND_CODE, { emailOrUsername: byName.username }),
        await api.post(SEND_CODE, { emailOrUsername: byEmail.email.toUpperCase() }),
        await api.post(SEND_CODE, { emailOrUsername: unknown }),
        await api.post(SEND_CODE, { emailOrUsername: uniqueName('nobody') }),
      ];
      for (const res of responses) {
        expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { success: true } });
      }

      // The known users get their code (sent after the answer)...
      await expect(t.mail.codeFor(byName.email, { after: before })).resolves.toMatch(/^\d{3}-\d{3}$/);
      await expect(t.mail.codeFor(byEmail.email, { after: before })).resolves.toMatch(/^\d{3}-\d{3}$/);
      // ...and nothing went to the unknown address.
      expect(t.mail.count(unknown)).toBe(0);
    });

    it('mails the code to every verified address, and the handshake accepts it', async () => {
      const user = await registerVerifiedUser(api, t);
      const second = `${uniqueName('second')}@example.com`;
      const unverified = `${uniqueName('unverified')}@example.com`;
      await addVerifiedAddress(t, user, second);
      await t.db.query(`INSERT INTO user_emails (user_id, address, verified_at, is_primary) VALUES ($1, $2, NULL, false)`, [
        user.userId,
        unverified,
      ]);
      const before = t.mail.messages.length;

      const res = await api.post(SEND_CODE, { emailOrUsername: user.username });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });

      const first = await t.mail.codeFor(user.email, { after: before });
      const other = await t.mail.codeFor(second, { after: before });
      expect(other).toBe(first);
      expect(t.mail.count(unverified)).toBe(0);

      const loggedIn = await api.post('/api/v1/login', { user: user.username, password: user.password, code: first });
      expect(loggedIn.status).toBe(200);
      expect(loggedIn.body).toMatchObject({ status: 'success', data: { userId: user.userId, authToken: expect.any(String) } });
    });

    it('a code it sends completes the handshake of an authenticated route (x-2fa-code header)', async () => {
      const user = await registerVerifiedUser(api, t);
      const agent = { 'user-agent': 'send-code/handshake' };
      const auth = await loginWithEmailCode(api, t, user, agent);
      // Past the resend pause of the login's code? It was consumed, so a new one is sent at once.
      const before = t.mail.messages.length;
      const sent = await api.post(SEND_CODE, { emailOrUsername: user.email });
      expect(sent.body).toEqual({ success: true });
      const code = await t.mail.codeFor(user.email, { after: before });

      const res = await api.post(DISABLE, undefined, {
        auth,
        headers: { ...agent, 'x-2fa-method': 'email', 'x-2fa-code': code.replace('-', '') },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
    });

    it('requires emailOrUsername', async () => {
      for (const body of [{}, { emailOrUsername: '' }, undefined]) {
        const res = await api.post(SEND_CODE, body, body === undefined ? { rawBody: '' } : {});
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          success: false,
          errorType: 'error-parameter-required',
          error: expect.stringMatching(/emailOrUsername.* \[error-parameter-required\]$/),
        });
      }
    });

    it('rejects wrong types with invalid-params', async () => {
      const user = await registerVerifiedUser(api, t);
      const before = t.mail.messages.length;
      for (const body of [{ emailOrUsername: [user.username] }, { emailOrUsername: 12345 }, { emailOrUsername: { $ne: null } }]) {
        const res = await api.post(SEND_CODE, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          success: false,
          errorType: 'invalid-params',
          error: expect.stringMatching(/ \[invalid-params\]$/),
        });
      }
      // A valid request afterwards: its mail is the first one for this user.
      await api.post(SEND_CODE, { emailOrUsername: user.username });
      await t.mail.codeFor(user.email, { after: before });
      expect(t.mail.messages.slice(before).filter((m) => m.to.includes(user.email))).toHaveLength(1);
    });
  });

  describe('the code email', () => {
    it('has an HTML and a text part, shows the code as 123-456, its lifetime and not to share it, from MAIL_FROM', async () => {
      const user = await registerVerifiedUser(api, t);
      const before = t.mail.messages.length;
      await api.post(SEND_CODE, { emailOrUsername: user.username });
      const mail = await t.mail.waitFor((m) => m.to.includes(user.email) && /\b\d{3}-\d{3}\b/.test(m.text), { after: before });

      const code = /\b(\d{3}-\d{3})\b/.exec(mail.text)![1]!;
      expect(mail.html).toContain(code);
      expect(mail.raw).toMatch(/Content-Type: text\/plain/i);
      expect(mail.raw).toMatch(/Content-Type: text\/html/i);
      for (const part of [mail.text, mail.html]) {
        expect(part).toMatch(/\b10 minutes\b/);
        expect(part).toMatch(/do not share this code/i);
      }
      // The plain code without the dash is not what is shown.
      expect(mail.text).not.toContain(code.replace('-', ''));
      expect(mail.subject.trim()).not.toBe('');
      expect(mail.from).toBe('security-desk@example.com');
      expect(mail.raw).toMatch(/^From: "?Security Desk"? <security-desk@example\.com>/m);
    });
  });

  describe('legacy sendEmailCode (COMPAT_SEND_EMAIL_CODE_REVEALS_USER=true)', () => {
    let legacy: TestApp;
    let legacyApi: Api;
    beforeAll(async () => {
      legacy = await createTestApp({ COMPAT_SEND_EMAIL_CODE_REVEALS_USER: 'true' });
      legacyApi = new Api(legacy.baseUrl);
    });
    afterAll(async () => legacy?.close());

    it('answers with the addresses for a known user and error-invalid-user for an unknown one', async () => {
      const user = await registerVerifiedUser(legacyApi, legacy);
      const second = `${uniqueName('second')}@example.com`;
      await addVerifiedAddress(legacy, user, second);
      const before = legacy.mail.messages.length;

      const byName = await legacyApi.post(SEND_CODE, { emailOrUsername: user.username });
      expect(byName.status).toBe(200);
      expect(byName.body).toEqual({ success: true, emails: [user.email, second] });
      const code = await legacy.mail.codeFor(user.email, { after: before });
      await expect(legacy.mail.codeFor(second, { after: before })).resolves.toBe(code);

      const byEmail = await legacyApi.post(SEND_CODE, { emailOrUsername: user.email });
      expect(byEmail.status).toBe(200);
      expect(byEmail.body).toEqual({ success: true, emails: [user.email, second] });

      const unknown = await legacyApi.post(SEND_CODE, { emailOrUsername: uniqueName('nobody') });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toEqual({
        success: false,
        errorType: 'error-invalid-user',
        error: expect.stringMatching(/ \[error-invalid-user\]$/),
      });

      const missing = await legacyApi.post(SEND_CODE, {});
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({ success: false, errorType: 'error-parameter-required' });

      const loggedIn = await legacyApi.post('/api/v1/login', { user: user.username, password: user.password, code });
      expect(loggedIn.status).toBe(200);
    });
  });

  describe('mail outage', () => {
    let outage: TestApp;
    let outageApi: Api;
    beforeAll(async () => {
      outage = await createTestApp();
      outageApi = new Api(outage.baseUrl);
    });
    afterAll(async () => outage?.close());

    const latestCodeRow = async (address: string) => {
      const [row] = await outage.db.query(
        `SELECT status, attempts, data_encrypted, last_error, sent_at FROM mail_outbox
          WHERE template = 'email-code' AND $1 = ANY("to") ORDER BY id DESC LIMIT 1`,
        [address],
      );
      return row as {
        status: string;
        attempts: number;
        data_encrypted: string | null;
        last_error: string | null;
        sent_at: Date | null;
      };
    };

    it('login answers 503 error-email-send-failed, keeps the message queued, and the worker delivers it after the backoff', async () => {
      const user = await registerVerifiedUser(outageApi, outage);
      const before = outage.mail.messages.length;
      outage.mail.failNext(1);

      const res = await outageApi.post('/api/v1/login', { user: user.username, password: user.password });
      expect(res.status).toBe(503);
      expect(res.body).toEqual(emailSendFailed);

      const queued = await latestCodeRow(user.email);
      expect(queued).toMatchObject({ status: 'pending', attempts: 1, sent_at: null });
      expect(queued.data_encrypted).toEqual(expect.any(String));
      expect(queued.last_error).toEqual(expect.any(String));
      expect(outage.mail.messages.slice(before).filter((m) => m.to.includes(user.email))).toHaveLength(0);

      // Not due yet: the first retry waits for the backoff.
      await expect(outage.worker.runOnce()).resolves.toBe(0);
      expect((await latestCodeRow(user.email)).status).toBe('pending');

      outage.clock.advance(30);
      await expect(outage.worker.runOnce()).resolves.toBe(1);
      const code = await outage.mail.codeFor(user.email, { after: before });
      const sent = await latestCodeRow(user.email);
      expect(sent).toMatchObject({ status: 'sent', attempts: 2, data_encrypted: null, last_error: null });
      expect(sent.sent_at).toBeInstanceOf(Date);

      // The code that finally arrived completes the login.
      const loggedIn = await outageApi.post('/api/v1/login', { user: user.username, password: user.password, code });
      expect(loggedIn.status).toBe(200);
      expect(loggedIn.body.status).toBe('success');
    });

    it('a queued code mail whose code has expired meanwhile is dropped, not delivered late', async () => {
      const user = await registerVerifiedUser(outageApi, outage);
      const before = outage.mail.messages.length;
      outage.mail.failNext(1);
      expect((await outageApi.post('/api/v1/login', { user: user.username, password: user.password })).status).toBe(503);

      outage.clock.advance(outage.config.EMAIL_CODE_TTL_SECONDS + 1);
      await outage.worker.runOnce();
      expect(await latestCodeRow(user.email)).toMatchObject({
        status: 'failed',
        last_error: 'expired before delivery',
        data_encrypted: null,
      });
      expect(outage.mail.messages.slice(before).filter((m) => m.to.includes(user.email))).toHaveLength(0);
    });

    it('an authenticated 2FA route answers 503 in the failure shape when the code cannot go out', async () => {
      const user = await registerVerifiedUser(outageApi, outage);
      const agent = { 'user-agent': 'outage/route' };
      const auth = await loginWithEmailCode(outageApi, outage, user, agent);
      outage.mail.failNext(1);

      const res = await outageApi.post(DISABLE, undefined, { auth, headers: agent });
      expect(res.status).toBe(503);
      expect(res.body).toEqual(emailSendFailed);
      expect(await latestCodeRow(user.email)).toMatchObject({ status: 'pending', attempts: 1 });

      // Email 2FA is still on: nothing was changed by the failed request.
      const me = await outageApi.get('/api/v1/me', { auth });
      expect(me.body.services.email2fa).toEqual({ enabled: true });
    });
  });
});
