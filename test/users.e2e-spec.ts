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
import type { ReceivedMail } from './helpers/smtp-sink.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const ADMIN = { username: 'rootadmin', email: 'rootadmin@example.com', password: 'admin password 123' };

/** Surface 1's account endpoints (API.md), against the real database and SMTP sink. */
describe('surface 1: accounts', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ ADMIN_USERNAME: ADMIN.username, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  const UNAUTHORIZED = { status: 'error', error: 'Unauthorized', message: 'Unauthorized' };
  const NOT_LOGGED_IN = { status: 'error', message: 'You must be logged in to do this.' };

  /** A surface-1 failure body of the given type (the message before `[type]` is free text). */
  const failure = (errorType: string, details?: unknown) => ({
    success: false,
    error: expect.stringMatching(new RegExp(`\\[${errorType}\\]$`)),
    errorType,
    ...(details === undefined ? {} : { details }),
  });

  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await t.db.query(`SELECT count(*)::int AS n FROM ${sql}`, params))[0].n);
  const usersNamed = (username: string) => count('users WHERE lower(username) = lower($1)', [username]);
  const emailsAt = (address: string) => count('user_emails WHERE lower(address) = lower($1)', [address]);
  const outboxSize = () => count('mail_outbox');

  /** The first verification mail to `address` from message index `after` on. */
  const verificationMail = (address: string, after = 0): Promise<ReceivedMail> =>
    t.mail.waitFor((m) => m.to.includes(address) && m.text.includes('/verify-email?token='), { after });
  const linkIn = (mail: ReceivedMail): string => /(https?:\/\/\S+\/verify-email\?token=\S+)/.exec(mail.text)![1]!;
  const tokenOf = (link: string): string => new URL(link).searchParams.get('token')!;

  const newAccount = (prefix = 'acct') => {
    const username = uniqueName(prefix);
    return { username, email: `${username}@example.com`, pass: 'correct horse battery', name: `Name ${username}` };
  };

  /** Registered, email not verified: logs in without a second factor. */
  async function registerUnverified(prefix = 'acct'): Promise<TestUser> {
    const account = newAccount(prefix);
    const res = await api.post('/api/v1/users.register', account);
    expect(res.status).toBe(200);
    return { username: account.username, email: account.email, password: account.pass, userId: res.body.user._id };
  }

  async function plainLogin(user: Pick<TestUser, 'username' | 'password'>): Promise<Credentials> {
    const res = await api.post('/api/v1/login', { user: user.username, password: user.password });
    expect(res.status).toBe(200);
    return { userId: res.body.data.userId, authToken: res.body.data.authToken };
  }

  describe('users.register', () => {
    it('creates the user unverified and mails a verification link (HTML and text)', async () => {
      const account = newAccount('reg');
      const res = await api.post('/api/v1/users.register', account);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        success: true,
        user: expect.objectContaining({
          _id: expect.stringMatching(/^\w{17}$/),
          username: account.username,
          name: account.name,
          emails: [{ address: account.email, verified: false }],
        }),
      });
      expect(JSON.stringify(res.body)).not.toMatch(/password|hash|argon2/i);

      const mail = await verificationMail(account.email);
      const link = linkIn(mail);
      expect(link).toMatch(/^http:\/\/app\.test\/verify-email\?token=[\w-]{43}$/);
      // The HTML part carries the same link (Handlebars may encode "=" as an entity inside it).
      const decodedHtml = mail.html.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
      expect(decodedHtml).toContain(`href="${link}"`);
      expect(mail.subject).toBe('Confirm your email address');

      const rows = await t.db.query(
        'SELECT u.username, e.address, e.verified_at, e.verification_token_hash FROM users u JOIN user_emails e ON e.user_id = u.id WHERE u.id = $1',
        [res.body.user._id],
      );
      expect(rows).toEqual([
        { username: account.username, address: account.email, verified_at: null, verification_token_hash: sha256(tokenOf(link)) },
      ]);
    });

    it('rejects an invalid email with error-invalid-email and creates nothing', async () => {
      const account = { ...newAccount('reg'), email: 'not-an-email' };
      const outbox = await outboxSize();
      const res = await api.post('/api/v1/users.register', account);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(failure('error-invalid-email'));
      expect(await usersNamed(account.username)).toBe(0);
      expect(await outboxSize()).toBe(outbox);
    });

    it('rejects a taken username, case-insensitively, with error-field-unavailable and creates nothing', async () => {
      const taken = await registerUnverified('reg');
      const account = { ...newAccount('reg'), username: taken.username.toUpperCase() };
      const outbox = await outboxSize();
      const res = await api.post('/api/v1/users.register', account);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(failure('error-field-unavailable', { field: 'username' }));
      expect(await usersNamed(taken.username)).toBe(1);
      expect(await emailsAt(account.email)).toBe(0);
      expect(await outboxSize()).toBe(outbox);
    });

    it('rejects a taken email, case-insensitively, with error-field-unavailable; the owner gets a security alert', async () => {
      const taken = await registerUnverified('reg');
      const account = { ...newAccount('reg'), email: taken.email.toUpperCase() };
      const outbox = await outboxSize();
      const before = t.mail.messages.length;
      const res = await api.post('/api/v1/users.register', account);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(failure('error-field-unavailable', { field: 'email' }));
      expect(await usersNamed(account.username)).toBe(0);
      expect(await emailsAt(taken.email)).toBe(1);
      // The only mail: the alert to the address someone tried to register with.
      expect(await outboxSize()).toBe(outbox + 1);
      const alert = await t.mail.waitFor(
        (m) => m.to.some((to) => to.toLowerCase() === taken.email) && m.subject === 'Sign-up attempt with your email address',
        { after: before },
      );
      expect(alert.text).toContain(account.email);
      expect(alert.html).toContain(account.email);
    });

    it("rejects a short password with Rocket.Chat's error-password-policy-not-met (its rules in details) and creates nothing", async () => {
      const account = { ...newAccount('reg'), pass: 'short' };
      const res = await api.post('/api/v1/users.register', account);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(
        failure('error-password-policy-not-met', [
          {
            error: 'error-password-policy-not-met-minLength',
            message: 'The password does not meet the minimum length password policy.',
            limit: 8,
          },
        ]),
      );
      expect(res.body.error).toBe(
        "The password provided does not meet the server's password policy. [error-password-policy-not-met]",
      );
      expect(await usersNamed(account.username)).toBe(0);
      expect(await emailsAt(account.email)).toBe(0);
    });

    it('rejects bad types and missing fields with invalid-params and creates nothing', async () => {
      const outbox = await outboxSize();
      const base = newAccount('reg');
      const bodies: Record<string, unknown>[] = [
        { ...base, pass: 12345678 },
        { ...base, username: [base.username] },
        { ...base, name: { first: 'a' } },
        { ...base, email: null },
        { username: base.username, email: base.email, name: base.name },
      ];
      for (const body of bodies) {
        const res = await api.post('/api/v1/users.register', body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toEqual(failure('invalid-params'));
      }
      // Values are never echoed in the message.
      const leaked = await api.post('/api/v1/users.register', { ...base, pass: ['secret-value-123'] });
      expect(JSON.stringify(leaked.body)).not.toContain('secret-value-123');
      expect(await usersNamed(base.username)).toBe(0);
      expect(await emailsAt(base.email)).toBe(0);
      expect(await outboxSize()).toBe(outbox);
    });

    it('ignores unknown fields, as Rocket.Chat does: they never reach the account', async () => {
      const account = newAccount('reg');
      const res = await api.post('/api/v1/users.register', {
        ...account,
        roles: ['admin'],
        joinDefaultChannels: true,
        customFields: { isAdmin: true },
      });
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ username: account.username, roles: ['user'] });
      const [row] = await t.db.query('SELECT roles FROM users WHERE id = $1', [res.body.user._id]);
      expect(row.roles).toEqual(['user']);
    });

    it("follows Rocket.Chat's username rule and refuses its reserved names; trims names and refuses markup", async () => {
      const outbox = await outboxSize();
      for (const username of ['no spaces', 'emoji😀', 'semi;colon', 'x'.repeat(65)]) {
        const res = await api.post('/api/v1/users.register', { ...newAccount('reg'), username });
        expect(res.status, username).toBe(400);
        expect(res.body).toEqual({
          success: false,
          error: 'The username provided is not valid [error-invalid-username]',
          errorType: 'error-invalid-username',
        });
      }
      for (const username of ['admin', 'Administrator', 'SYSTEM', 'user', 'rocket.cat', 'all', 'here']) {
        const res = await api.post('/api/v1/users.register', { ...newAccount('reg'), username });
        expect(res.status, username).toBe(400);
        expect(res.body).toEqual({
          success: false,
          error: `${username} is blocked and can't be used! [error-blocked-username]`,
          errorType: 'error-blocked-username',
        });
      }
      for (const name of ['   ', '\u00a0\u3000', '<script>alert(1)</script>', 'a/b', 'back\\slash']) {
        const res = await api.post('/api/v1/users.register', { ...newAccount('reg'), name });
        expect(res.status, name).toBe(400);
        expect(res.body).toEqual(failure('error-invalid-name'));
      }
      expect(await outboxSize()).toBe(outbox);

      const account = { ...newAccount('reg'), name: '  Ada Lovelace  ' };
      const trimmed = await api.post('/api/v1/users.register', account);
      expect(trimmed.status).toBe(200);
      expect(trimmed.body.user.name).toBe('Ada Lovelace');
      const taken = await api.post('/api/v1/users.register', { ...newAccount('reg'), username: account.username });
      expect(taken.body).toEqual({
        success: false,
        error: `${account.username} is already in use :( [error-field-unavailable]`,
        errorType: 'error-field-unavailable',
        details: { field: 'username' },
      });
    });
  });

  describe('users.sendConfirmationEmail', () => {
    it('answers success for an unknown address and sends nothing', async () => {
      const outbox = await outboxSize();
      const res = await api.post('/api/v1/users.sendConfirmationEmail', { email: `${uniqueName('nobody')}@example.com` });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      expect(await outboxSize()).toBe(outbox);
    });

    it('mails a new link to a known unverified address; the new link verifies', async () => {
      const user = await registerUnverified('conf');
      const firstLink = linkIn(await verificationMail(user.email));
      const before = t.mail.messages.length;
      const res = await api.post('/api/v1/users.sendConfirmationEmail', { email: user.email.toUpperCase() });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      const secondLink = linkIn(await verificationMail(user.email, before));
      expect(secondLink).not.toBe(firstLink);
      expect(secondLink).toMatch(/^http:\/\/app\.test\/verify-email\?token=/);
      const verified = await api.post('/api/v1/users.verifyEmail', { token: tokenOf(secondLink) });
      expect(verified.status).toBe(200);
      expect(verified.body).toEqual({ success: true });
    });

    it('answers success for a verified address without mailing a link', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('conf') });
      const outbox = await outboxSize();
      const res = await api.post('/api/v1/users.sendConfirmationEmail', { email: user.email });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      expect(await outboxSize()).toBe(outbox);
    });

    it('answers a missing email with 400 error-parameter-required', async () => {
      for (const options of [{ body: {} }, { body: { email: '' } }, { body: undefined, rawBody: '' }]) {
        const res = await api.post('/api/v1/users.sendConfirmationEmail', options.body, {
          rawBody: options.rawBody,
          headers: { 'content-type': 'application/json' },
        });
        expect(res.status).toBe(400);
        expect(res.body).toEqual(failure('error-parameter-required'));
      }
      const wrongType = await api.post('/api/v1/users.sendConfirmationEmail', { email: 42 });
      expect(wrongType.status).toBe(400);
      expect(wrongType.body).toEqual(failure('invalid-params'));
    });
  });

  describe('users.verifyEmail', () => {
    it('verifies with the emailed token (shown in /me); the token is single use', async () => {
      const user = await registerUnverified('ver');
      const auth = await plainLogin(user);
      const before = await api.get('/api/v1/me', { auth });
      expect(before.body.emails).toEqual([{ address: user.email, verified: false }]);
      expect(before.body.services).toEqual({ email2fa: { enabled: false }, totp: { enabled: false } });

      const token = tokenOf(linkIn(await verificationMail(user.email)));
      const res = await api.post('/api/v1/users.verifyEmail', { token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });

      const after = await api.get('/api/v1/me', { auth });
      expect(after.status).toBe(200);
      expect(after.body.emails).toEqual([{ address: user.email, verified: true }]);
      // Email 2FA (auto opt-in) is now effective.
      expect(after.body.services).toEqual({ email2fa: { enabled: true }, totp: { enabled: false } });

      const reuse = await api.post('/api/v1/users.verifyEmail', { token });
      expect(reuse.status).toBe(400);
      expect(reuse.body).toEqual(failure('error-invalid-token'));
    });

    it('refuses a token older than EMAIL_VERIFICATION_TTL_SECONDS', async () => {
      const early = await registerUnverified('ver');
      const late = await registerUnverified('ver');
      const earlyToken = tokenOf(linkIn(await verificationMail(early.email)));
      const lateToken = tokenOf(linkIn(await verificationMail(late.email)));
      t.clock.advance(t.config.EMAIL_VERIFICATION_TTL_SECONDS - 30);
      const stillValid = await api.post('/api/v1/users.verifyEmail', { token: earlyToken });
      expect(stillValid.status).toBe(200);
      t.clock.advance(60);
      const expired = await api.post('/api/v1/users.verifyEmail', { token: lateToken });
      expect(expired.status).toBe(400);
      expect(expired.body).toEqual(failure('error-invalid-token'));
      const row = await t.db.query('SELECT verified_at FROM user_emails WHERE user_id = $1', [late.userId]);
      expect(row).toEqual([{ verified_at: null }]);
    });

    it('answers a missing token with error-parameter-required, an unknown one with error-invalid-token', async () => {
      const missing = await api.post('/api/v1/users.verifyEmail', {});
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual(failure('error-parameter-required'));
      const unknown = await api.post('/api/v1/users.verifyEmail', { token: 'A'.repeat(43) });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toEqual(failure('error-invalid-token'));
      const tooLong = await api.post('/api/v1/users.verifyEmail', { token: 'A'.repeat(500) });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body).toEqual(failure('invalid-params'));
    });
  });

  describe('GET /verify-email (the link in the email)', () => {
    const verifiedAt = async (userId: string) =>
      (await t.db.query('SELECT verified_at FROM user_emails WHERE user_id = $1', [userId]))[0].verified_at as Date | null;

    it('shows a page whose form POSTs the token; opening the link does not verify', async () => {
      const user = await registerUnverified('page');
      const link = linkIn(await verificationMail(user.email));
      const pageUrl = link.replace('http://app.test', t.baseUrl);
      const token = tokenOf(link);

      const page = await fetch(pageUrl, { headers: { 'user-agent': 'mail-scanner/1.0' } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      const form = /<form method="post" action="([^"]+)">/.exec(html);
      expect(form).not.toBeNull();
      expect(new URL(form![1]!, pageUrl).pathname).toBe('/verify-email');
      expect(html).toContain(`<input type="hidden" name="token" value="${token}">`);
      // Twice, as scanners do: still unverified.
      expect((await fetch(pageUrl)).status).toBe(200);
      expect(await verifiedAt(user.userId)).toBeNull();

      const confirm = await fetch(new URL(form![1]!, pageUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(confirm.status).toBe(200);
      expect(await confirm.text()).toContain('Email address confirmed');
      expect(await verifiedAt(user.userId)).toBeInstanceOf(Date);

      // The form again (a second click): the link is used up, and the page says so.
      const again = await fetch(new URL(form![1]!, pageUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(again.status).toBe(200);
      expect(await again.text()).toContain('Link expired or invalid');
    });

    it('escapes the token in the page and handles a missing one', async () => {
      const hostile = await fetch(`${t.baseUrl}/verify-email?token=${encodeURIComponent('"><script>alert(1)</script>')}`);
      const html = await hostile.text();
      expect(html).not.toContain('<script>');
      expect(html).toContain('&#34;&#62;&#60;script&#62;');
      const missing = await fetch(`${t.baseUrl}/verify-email`);
      expect(missing.status).toBe(200);
      expect(await missing.text()).toContain('This verification link is incomplete.');
    });
  });

  describe('users.create (admin)', () => {
    it('ADMIN_* created the admin at start, with a verified email and the admin role', async () => {
      const rows = await t.db.query(
        'SELECT u.roles, e.address, e.verified_at FROM users u JOIN user_emails e ON e.user_id = u.id WHERE u.username = $1',
        [ADMIN.username],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].roles).toContain('admin');
      expect(rows[0].address).toBe(ADMIN.email);
      expect(rows[0].verified_at).toBeInstanceOf(Date);

      // Verified email + auto opt-in: the admin's login asks for the emailed code.
      const auth = await loginWithEmailCode(api, t, { ...ADMIN, userId: '' });
      const me = await api.get('/api/v1/me', { auth });
      expect(me.body).toMatchObject({
        username: ADMIN.username,
        emails: [{ address: ADMIN.email, verified: true }],
        roles: expect.arrayContaining(['admin']),
        services: { email2fa: { enabled: true } },
      });
    });

    it('the admin, after the handshake, creates a verified user who then logs in with email 2FA', async () => {
      const auth = await loginWithEmailCode(api, t, { ...ADMIN, userId: '' }, { 'user-agent': 'admin-console/1' });
      const account = newAccount('made');
      const body = {
        email: account.email,
        name: account.name,
        password: account.pass,
        username: account.username,
        verified: true,
      };

      // From another client the remembered second factor does not count: the handshake runs.
      const before = t.mail.messages.length;
      const asked = await api.post('/api/v1/users.create', body, { auth, headers: { 'user-agent': 'admin-script/1' } });
      expect(asked.status).toBe(400);
      expect(asked.body).toEqual(
        failure('totp-required', expect.objectContaining({ method: 'email', codeGenerated: true, emailOrUsername: ADMIN.email })),
      );
      expect(await usersNamed(account.username)).toBe(0);
      const code = await t.mail.codeFor(ADMIN.email, { after: before });
      const res = await api.post('/api/v1/users.create', body, {
        auth,
        headers: { 'user-agent': 'admin-script/1', 'x-2fa-code': code, 'x-2fa-method': 'email' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        success: true,
        user: expect.objectContaining({
          _id: expect.any(String),
          username: account.username,
          name: account.name,
          emails: [{ address: account.email, verified: true }],
          roles: ['user'],
        }),
      });

      // No verification link for a verified address; the login asks for the emailed code.
      const beforeLogin = t.mail.messages.length;
      const first = await api.post('/api/v1/login', { user: account.username, password: account.pass });
      expect(first.status).toBe(401);
      expect(first.body).toMatchObject({
        error: 'totp-required',
        details: { method: 'email', codeGenerated: true, emailOrUsername: account.email, availableMethods: ['email'] },
      });
      const userCode = await t.mail.codeFor(account.email, { after: beforeLogin });
      const login = await api.post('/api/v1/login', { user: account.username, password: account.pass, code: userCode });
      expect(login.status).toBe(200);
      expect(login.body.data.userId).toBe(res.body.user._id);
      expect(t.mail.messages.filter((m) => m.to.includes(account.email) && m.text.includes('/verify-email?token='))).toEqual([]);
    });

    it('a user created unverified gets a verification link and logs in without 2FA', async () => {
      const auth = await loginWithEmailCode(api, t, { ...ADMIN, userId: '' });
      const account = newAccount('made');
      const res = await api.post(
        '/api/v1/users.create',
        { email: account.email, name: account.name, password: account.pass, username: account.username },
        { auth },
      );
      expect(res.status).toBe(200);
      expect(res.body.user.emails).toEqual([{ address: account.email, verified: false }]);
      expect(linkIn(await verificationMail(account.email))).toMatch(/^http:\/\/app\.test\/verify-email\?token=/);
      await plainLogin({ username: account.username, password: account.pass });
    });

    it("the admin's mistakes get the registration errors", async () => {
      const auth = await loginWithEmailCode(api, t, { ...ADMIN, userId: '' });
      const account = newAccount('made');
      const body = { email: account.email, name: account.name, password: account.pass, username: account.username };
      const taken = await api.post('/api/v1/users.create', { ...body, username: ADMIN.username.toUpperCase() }, { auth });
      expect(taken.status).toBe(400);
      expect(taken.body).toEqual(failure('error-field-unavailable', { field: 'username' }));
      const badEmail = await api.post('/api/v1/users.create', { ...body, email: 'nope' }, { auth });
      expect(badEmail.status).toBe(400);
      expect(badEmail.body).toEqual(failure('error-invalid-email'));
      const short = await api.post('/api/v1/users.create', { ...body, password: 'short' }, { auth });
      expect(short.status).toBe(400);
      expect(short.body).toEqual(
        failure('error-password-policy-not-met', [
          {
            error: 'error-password-policy-not-met-minLength',
            message: 'The password does not meet the minimum length password policy.',
            limit: 8,
          },
        ]),
      );
      const badType = await api.post('/api/v1/users.create', { ...body, verified: 'yes' }, { auth });
      expect(badType.status).toBe(400);
      expect(badType.body).toEqual(failure('invalid-params'));
      expect(await usersNamed(account.username)).toBe(0);
    });

    it('a non-admin gets 403 error-not-allowed, before any second factor is asked', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('plain') });
      const auth = await loginWithEmailCode(api, t, user, { 'user-agent': 'plain-client/1' });
      const account = newAccount('made');
      const body = {
        email: account.email,
        name: account.name,
        password: account.pass,
        username: account.username,
        verified: true,
      };

      // With the second factor remembered for this client.
      const remembered = await api.post('/api/v1/users.create', body, { auth, headers: { 'user-agent': 'plain-client/1' } });
      expect(remembered.status).toBe(403);
      expect(remembered.body).toEqual({
        success: false,
        error: 'Not allowed [error-not-allowed]',
        errorType: 'error-not-allowed',
      });

      // From another client: still 403, and no code is mailed for a request that cannot succeed.
      await t.mailSettled();
      const mails = t.mail.count(user.email);
      const outbox = await outboxSize();
      const fresh = await api.post('/api/v1/users.create', body, { auth, headers: { 'user-agent': 'plain-other/1' } });
      expect(fresh.status).toBe(403);
      expect(fresh.body).toEqual({ success: false, error: 'Not allowed [error-not-allowed]', errorType: 'error-not-allowed' });
      expect(await outboxSize()).toBe(outbox);
      expect(t.mail.count(user.email)).toBe(mails);

      // A user without any second factor (the password fallback) too.
      const unverified = await registerUnverified('plain');
      const plain = await plainLogin(unverified);
      const noFactor = await api.post('/api/v1/users.create', body, { auth: plain });
      expect(noFactor.status).toBe(403);
      expect(noFactor.body.errorType).toBe('error-not-allowed');

      expect(await usersNamed(account.username)).toBe(0);
      const anonymous = await api.post('/api/v1/users.create', body);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toEqual(NOT_LOGGED_IN);
    });
  });

  describe('users.updateOwnBasicInfo', () => {
    const update = (auth: Credentials, data: Record<string, unknown>, headers: Record<string, string> = {}) =>
      api.post('/api/v1/users.updateOwnBasicInfo', { data }, { auth, headers });

    /** The handshake for one request: the first answer mails a code, the repeat carries it. */
    async function updateWithCode(auth: Credentials, user: TestUser, data: Record<string, unknown>) {
      const before = t.mail.messages.length;
      const asked = await update(auth, data);
      expect(asked.status).toBe(400);
      expect(asked.body).toEqual(
        failure('totp-required', {
          method: 'email',
          codeGenerated: true,
          emailOrUsername: user.email,
          availableMethods: ['email'],
        }),
      );
      const code = await t.mail.codeFor(user.email, { after: before });
      return update(auth, data, { 'x-2fa-code': code, 'x-2fa-method': 'email' });
    }

    it('a name or username change needs no second factor, even from a client that never gave one', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('upd') });
      const auth = await loginWithEmailCode(api, t, user);
      const renamed = uniqueName('upd');
      const res = await update(auth, { name: 'Changed', username: renamed }, { 'user-agent': 'another-client/2' });
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ name: 'Changed', username: renamed });
    });

    it('an email or password change always needs a fresh second factor: the remember window does not count', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('upd') });
      // This login's factor is remembered for this client: a rememberable 2FA route passes…
      const auth = await loginWithEmailCode(api, t, user);
      const remembered = await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'x' }, { auth });
      expect(remembered.status).toBe(200);
      // …but a stolen session must not hand the account over: email and password ask again.
      const newEmail = `${uniqueName('thief')}@example.com`;
      const email = await update(auth, { email: newEmail });
      expect(email.status).toBe(400);
      expect(email.body.errorType).toBe('totp-required');
      const password = await update(auth, { newPassword: 'thief password 123', currentPassword: sha256(user.password) });
      expect(password.status).toBe(400);
      expect(password.body.errorType).toBe('totp-required');
      expect(await emailsAt(newEmail)).toBe(0);
      expect((await api.get('/api/v1/me', { auth })).body.emails).toEqual([{ address: user.email, verified: true }]);
    });

    it('changes the name', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('upd') });
      const auth = await loginWithEmailCode(api, t, user);
      const res = await update(auth, { name: 'Ada Lovelace' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        success: true,
        user: expect.objectContaining({ _id: user.userId, username: user.username, name: 'Ada Lovelace' }),
      });
      expect((await api.get('/api/v1/me', { auth })).body.name).toBe('Ada Lovelace');
    });

    it('changes the username; a taken one (any case) is error-field-unavailable', async () => {
      const other = await registerUnverified('upd');
      const user = await registerVerifiedUser(api, t, { username: uniqueName('upd') });
      const auth = await loginWithEmailCode(api, t, user);

      const taken = await update(auth, { username: other.username.toUpperCase() });
      expect(taken.status).toBe(400);
      expect(taken.body).toEqual({
        success: false,
        error: `${other.username.toUpperCase()} is already in use :( [error-field-unavailable]`,
        errorType: 'error-field-unavailable',
        details: { field: 'username' },
      });
      const invalid = await update(auth, { username: 'no spaces allowed' });
      expect(invalid.status).toBe(400);
      expect(invalid.body).toEqual({
        success: false,
        error: 'The username provided is not valid [error-invalid-username]',
        errorType: 'error-invalid-username',
      });
      const reserved = await update(auth, { username: 'Admin' });
      expect(reserved.body.errorType).toBe('error-blocked-username');
      const emptyName = await update(auth, { name: '   ' });
      expect(emptyName.body.errorType).toBe('error-invalid-name');
      expect((await api.get('/api/v1/me', { auth })).body.username).toBe(user.username);

      const renamed = uniqueName('renamed');
      const res = await update(auth, { username: ` ${renamed} ` });
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ _id: user.userId, username: renamed });
      const old = await api.post('/api/v1/login', { user: user.username, password: user.password });
      expect(old.status).toBe(401);
      expect(old.body).toEqual(UNAUTHORIZED);
      const again = await loginWithEmailCode(api, t, { ...user, username: renamed });
      expect(again.userId).toBe(user.userId);
    });

    it('changes the password with the second factor and the right currentPassword (hex SHA-256, either case)', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('upd') });
      const auth = await loginWithEmailCode(api, t, user);
      const newPassword = 'a brand new passphrase';

      // Refused before any code is mailed: no currentPassword, a plain-text one, a weak new password.
      await t.mailSettled();
      const mailBefore = t.mail.messages.length;
      const missing = await update(auth, { newPassword });
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual(failure('error-invalid-password'));
      const plainText = await update(auth, { newPassword, currentPassword: user.password });
      expect(plainText.status).toBe(400);
      expect(plainText.body).toEqual(failure('invalid-params'));
      const short = await update(auth, { newPassword: 'short', currentPassword: sha256(user.password) });
      expect(short.status).toBe(400);
      expect(short.body.errorType).toBe('error-password-policy-not-met');
      expect(t.mail.messages.length).toBe(mailBefore);

      const wrong = await updateWithCode(auth, user, { newPassword, currentPassword: sha256('not my password') });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual({
        success: false,
        error: 'Invalid password [error-invalid-password]',
        errorType: 'error-invalid-password',
      });
      // None of these changed it (and this second session must end with the change below).
      const otherSession = await loginWithEmailCode(api, t, user);

      const res = await updateWithCode(auth, user, { newPassword, currentPassword: sha256(user.password).toUpperCase() });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, user: { _id: user.userId } });
      expect((await api.get('/api/v1/me', { auth: otherSession })).status).toBe(401);
      expect((await api.get('/api/v1/me', { auth })).status).toBe(200);
      const old = await api.post('/api/v1/login', { user: user.username, password: user.password });
      expect(old.status).toBe(401);
      expect(old.body).toEqual(UNAUTHORIZED);
      const fresh = await loginWithEmailCode(api, t, { ...user, password: newPassword });
      expect(fresh.userId).toBe(user.userId);
    });

    it('a user without a method: currentPassword is the second factor (wrong: error-invalid-password), none: the password handshake', async () => {
      const user = await registerUnverified('upd');
      const auth = await plainLogin(user);
      const newEmail = `${uniqueName('moved')}@example.com`;

      const asked = await update(auth, { email: newEmail });
      expect(asked.status).toBe(400);
      expect(asked.body).toEqual(
        failure('totp-required', {
          method: 'password',
          codeGenerated: false,
          emailOrUsername: user.username,
          availableMethods: [],
        }),
      );
      const wrong = await update(auth, { email: newEmail, currentPassword: sha256('wrong password') });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual(failure('error-invalid-password'));
      expect(await emailsAt(newEmail)).toBe(0);

      const res = await update(auth, { email: newEmail, currentPassword: sha256(user.password) });
      expect(res.status).toBe(200);
      // The never-verified address is simply replaced.
      expect(res.body.user.emails).toEqual([{ address: newEmail, verified: false }]);
    });

    it('changes the email once the new address is verified; the old one receives codes until then', async () => {
      const other = await registerUnverified('upd');
      const user = await registerVerifiedUser(api, t, { username: uniqueName('upd') });
      const auth = await loginWithEmailCode(api, t, user);

      // Refused before a code is mailed.
      await t.mailSettled();
      const mailBefore = t.mail.messages.length;
      const taken = await update(auth, { email: other.email.toUpperCase() });
      expect(taken.status).toBe(400);
      expect(taken.body).toEqual(failure('error-field-unavailable', { field: 'email' }));
      const invalid = await update(auth, { email: 'not an email' });
      expect(invalid.status).toBe(400);
      expect(invalid.body).toEqual(failure('invalid-params'));
      expect(t.mail.messages.length).toBe(mailBefore);

      const newEmail = `${uniqueName('moved')}@example.com`;
      const res = await updateWithCode(auth, user, { email: newEmail });
      expect(res.status).toBe(200);
      const pending = [
        { address: user.email, verified: true },
        { address: newEmail, verified: false },
      ];
      expect(res.body.user.emails).toEqual(pending);
      const mail = await verificationMail(newEmail);
      expect(mail.to).toEqual([newEmail]);
      const link = linkIn(mail);
      expect(link).toMatch(/^http:\/\/app\.test\/verify-email\?token=/);
      expect(mail.html.replace(/&#x3D;/g, '=')).toContain(link);
      expect((await api.get('/api/v1/me', { auth })).body).toMatchObject({
        emails: pending,
        services: { email2fa: { enabled: true } },
      });

      expect((await api.post('/api/v1/users.verifyEmail', { token: tokenOf(link) })).status).toBe(200);
      expect((await api.get('/api/v1/me', { auth })).body.emails).toEqual([{ address: newEmail, verified: true }]);
      // The old address is gone: it can be registered again.
      expect(await emailsAt(user.email)).toBe(0);
    });

    it('ignores unknown fields (they never reach the account); a missing or non-object data is invalid-params', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('upd') });
      const auth = await loginWithEmailCode(api, t, user);
      const unknown = await update(auth, { roles: ['admin'], name: 'Still Me', customFields: { x: 1 } });
      expect(unknown.status).toBe(200);
      expect(unknown.body.user).toMatchObject({ name: 'Still Me', roles: ['user'] });
      for (const body of [{ name: 'x' }, { data: [] }, { data: 'name' }, { data: null }, { data: { toString: 'x' } }]) {
        const res = await api.post('/api/v1/users.updateOwnBasicInfo', body, { auth });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toEqual(failure('invalid-params'));
      }
      expect((await api.get('/api/v1/me', { auth })).body.roles).toEqual(['user']);
    });
  });

  describe('users.generatePersonalAccessToken', () => {
    const generate = (auth: Credentials, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      api.post('/api/v1/users.generatePersonalAccessToken', body, { auth, headers });

    it('returns a token usable as X-Auth-Token; a second one of the same name is refused', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('pat') });
      const auth = await loginWithEmailCode(api, t, user);
      const res = await generate(auth, { tokenName: 'ci' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true, token: expect.stringMatching(/^[\w-]{43}$/) });

      const me = await api.get('/api/v1/me', { auth: { userId: user.userId, authToken: res.body.token } });
      expect(me.status).toBe(200);
      expect(me.body._id).toBe(user.userId);
      const wrongUser = await api.get('/api/v1/me', { auth: { userId: 'someoneElse12345', authToken: res.body.token } });
      expect(wrongUser.status).toBe(401);
      expect(wrongUser.body).toEqual(NOT_LOGGED_IN);

      const twice = await generate(auth, { tokenName: 'ci' });
      expect(twice.status).toBe(400);
      expect(twice.body).toEqual(failure('error-token-already-exists'));
      const missing = await generate(auth, {});
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual(failure('error-parameter-required'));
    });

    it('a token made with bypassTwoFactor skips the handshake; one without does not', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('pat') });
      const auth = await loginWithEmailCode(api, t, user);
      const bypass = (await generate(auth, { tokenName: 'bypass', bypassTwoFactor: true })).body.token as string;
      const normal = (await generate(auth, { tokenName: 'normal' })).body.token as string;

      const withBypass = await generate({ userId: user.userId, authToken: bypass }, { tokenName: 'from-bypass' });
      expect(withBypass.status).toBe(200);
      const withNormal = await generate({ userId: user.userId, authToken: normal }, { tokenName: 'from-normal' });
      expect(withNormal.status).toBe(400);
      expect(withNormal.body.errorType).toBe('totp-required');
    });
  });

  describe('users.deleteOwnAccount', () => {
    it('always asks for the second factor, then deletes the account', async () => {
      const user = await registerVerifiedUser(api, t, { username: uniqueName('del') });
      const auth = await loginWithEmailCode(api, t, user);
      // The login's second factor is remembered for rememberable routes…
      const rememberable = await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'x' }, { auth });
      expect(rememberable.status).toBe(200);

      // …but not for this one.
      const before = t.mail.messages.length;
      const asked = await api.post('/api/v1/users.deleteOwnAccount', undefined, { auth });
      expect(asked.status).toBe(400);
      expect(asked.body).toEqual(
        failure('totp-required', {
          method: 'email',
          codeGenerated: true,
          emailOrUsername: user.email,
          availableMethods: ['email'],
        }),
      );
      const code = await t.mail.codeFor(user.email, { after: before });
      const wrong = await api.post('/api/v1/users.deleteOwnAccount', undefined, {
        auth,
        headers: { 'x-2fa-code': code === '000-000' ? '111-111' : '000-000', 'x-2fa-method': 'email' },
      });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual(failure('totp-invalid', expect.objectContaining({ method: 'email' })));
      expect(await usersNamed(user.username)).toBe(1);

      const res = await api.post('/api/v1/users.deleteOwnAccount', undefined, {
        auth,
        headers: { 'x-2fa-code': code, 'x-2fa-method': 'email' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });

      const login = await api.post('/api/v1/login', { user: user.username, password: user.password });
      expect(login.status).toBe(401);
      expect(login.body).toEqual(UNAUTHORIZED);
      const me = await api.get('/api/v1/me', { auth });
      expect(me.status).toBe(401);
      expect(me.body).toEqual(NOT_LOGGED_IN);
      const personal = await api.get('/api/v1/me', { auth: { userId: user.userId, authToken: rememberable.body.token } });
      expect(personal.status).toBe(401);
      expect(await count('users WHERE id = $1', [user.userId])).toBe(0);
      expect(await count('user_emails WHERE user_id = $1', [user.userId])).toBe(0);
      expect(await count('sessions WHERE user_id = $1', [user.userId])).toBe(0);
    });
  });
});
