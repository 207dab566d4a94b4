import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  type ApiResponse,
  type Credentials,
  loginWithEmailCode,
  registerVerifiedUser,
  sha256,
  type TestUser,
  uniqueName,
} from './helpers/api.js';
import { DELETE_ACCOUNT_ROUTE, DISABLE_EMAIL_ROUTE, PAT_ROUTE } from './helpers/routes.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * The limits around surface 1's 2FA handshake: EMAIL_CODE_MAX_ATTEMPTS wrong codes, the account
 * lockout (DESIGN.md: after 10 consecutive failures, from 30 s doubling up to 1 h), the password
 * fallback for users without a second factor, and personal access tokens that bypass 2FA.
 */

interface Subject {
  user: TestUser;
  auth: Credentials;
}

interface CallOptions {
  agent: string;
  code?: string;
  method?: string;
  auth?: Credentials;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A well-formed code that is not `code`. */
const otherCode = (code: string): string => String((Number(code.replace('-', '')) + 1) % 1_000_000).padStart(6, '0');

const emailDetails = (email: string, codeGenerated: boolean) => ({
  method: 'email',
  codeGenerated,
  emailOrUsername: email,
  availableMethods: ['email'],
});

const totpRequired = (email: string) => ({
  success: false,
  error: 'TOTP Required [totp-required]',
  errorType: 'totp-required',
  details: emailDetails(email, true),
});

const totpInvalid = (email: string) => ({
  success: false,
  error: 'TOTP Invalid [totp-invalid]',
  errorType: 'totp-invalid',
  details: emailDetails(email, false),
});

const totpMaxAttempts = (email: string) => ({
  success: false,
  error: 'TOTP Maximum Attempts Reached [totp-max-attempts]',
  errorType: 'totp-max-attempts',
  details: emailDetails(email, false),
});

const tokenCreated = { success: true, token: expect.stringMatching(/^\S{20,}$/) };

/** Helpers bound to one test app. */
function handshake(getApp: () => { t: TestApp; api: Api }) {
  let agentSequence = 0;
  const newAgent = (): string => `tfa-security-tests/${++agentSequence}`;

  async function loggedInUser(): Promise<Subject> {
    const { t, api } = getApp();
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user, { 'user-agent': newAgent() });
    return { user, auth };
  }

  function call(route: string, subject: Subject, options: CallOptions, body?: unknown): Promise<ApiResponse> {
    const headers: Record<string, string> = { 'user-agent': options.agent };
    if (options.code !== undefined) headers['x-2fa-code'] = options.code;
    if (options.method !== undefined) headers['x-2fa-method'] = options.method;
    return getApp().api.post(route, body, { auth: options.auth ?? subject.auth, headers });
  }

  const createToken = (subject: Subject, options: CallOptions, extra: Record<string, unknown> = {}) =>
    call(PAT_ROUTE, subject, options, { tokenName: uniqueName('token'), ...extra });

  /** Asks without a code (expecting a fresh one) and reads it out of the delivered mail. */
  async function requestCode(subject: Subject, agent = newAgent()): Promise<string> {
    const { t } = getApp();
    const before = t.mail.messages.length;
    const response = await createToken(subject, { agent });
    expect(response.status).toBe(400);
    expect(response.body).toEqual(totpRequired(subject.user.email));
    return t.mail.codeFor(subject.user.email, { after: before });
  }

  /** Sends `count` wrong email codes, each from a new user agent; returns the answers. */
  async function wrongCodes(subject: Subject, goodCode: string, count: number): Promise<ApiResponse[]> {
    const responses: ApiResponse[] = [];
    for (let i = 0; i < count; i++) {
      responses.push(await createToken(subject, { agent: newAgent(), code: otherCode(goodCode), method: 'email' }));
    }
    return responses;
  }

  return { newAgent, loggedInUser, call, createToken, requestCode, wrongCodes };
}

describe('2FA handshake limits, fallback and bypass (surface 1)', () => {
  let t: TestApp;
  let api: Api;
  const h = handshake(() => ({ t, api }));

  beforeAll(async () => {
    t = await createTestApp();
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  const countPersonalTokens = async (userId: string): Promise<number> => {
    const [row] = await t.db.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND kind = 'personal'`, [userId]);
    return row.n as number;
  };

  describe('EMAIL_CODE_MAX_ATTEMPTS (5)', () => {
    it('the fifth wrong code answers totp-max-attempts and kills the outstanding codes', async () => {
      expect(t.config.EMAIL_CODE_MAX_ATTEMPTS).toBe(5);
      const subject = await h.loggedInUser();
      const code = await h.requestCode(subject);

      const responses = await h.wrongCodes(subject, code, 5);

      for (const response of responses.slice(0, 4)) {
        expect(response.status).toBe(400);
        expect(response.body).toEqual(totpInvalid(subject.user.email));
      }
      expect(responses[4]!.status).toBe(400);
      expect(responses[4]!.body).toEqual(totpMaxAttempts(subject.user.email));

      // The good code, never used, is dead now.
      const dead = await h.createToken(subject, { agent: h.newAgent(), code, method: 'email' });
      expect(dead.status).toBe(400);
      expect(dead.body).toEqual(totpInvalid(subject.user.email));
      expect(await countPersonalTokens(subject.user.userId)).toBe(0);

      // Asking again mails a new code at once (no resend wait), and it works.
      const fresh = await h.requestCode(subject);
      expect(fresh).not.toBe(code);
      const ok = await h.createToken(subject, { agent: h.newAgent(), code: fresh, method: 'email' });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual(tokenCreated);
    });

    it('a resend does not buy more guesses: the count runs across codes', async () => {
      const subject = await h.loggedInUser();
      const first = await h.requestCode(subject);
      const early = await h.wrongCodes(subject, first, 3);
      expect(early.map((r) => r.body.errorType)).toEqual(['totp-invalid', 'totp-invalid', 'totp-invalid']);

      t.clock.advance(t.config.EMAIL_CODE_RESEND_AFTER_SECONDS + 1);
      const second = await h.requestCode(subject);
      // Guesses that are neither code.
      const wrong = ['000000', '999999', '555555', '123123'].filter(
        (c) => c !== first.replace('-', '') && c !== second.replace('-', ''),
      );
      const fourth = await h.createToken(subject, { agent: h.newAgent(), code: wrong[0]!, method: 'email' });
      expect(fourth.body).toEqual(totpInvalid(subject.user.email));
      const fifth = await h.createToken(subject, { agent: h.newAgent(), code: wrong[1]!, method: 'email' });
      expect(fifth.status).toBe(400);
      expect(fifth.body).toEqual(totpMaxAttempts(subject.user.email));

      for (const code of [first, second]) {
        const dead = await h.createToken(subject, { agent: h.newAgent(), code, method: 'email' });
        expect(dead.body).toEqual(totpInvalid(subject.user.email));
      }
    });

    it('a right code resets the count of wrong ones', async () => {
      const subject = await h.loggedInUser();
      const first = await h.requestCode(subject);
      await h.wrongCodes(subject, first, 4);
      expect((await h.createToken(subject, { agent: h.newAgent(), code: first, method: 'email' })).status).toBe(200);

      const second = await h.requestCode(subject);
      const responses = await h.wrongCodes(subject, second, 4);
      expect(responses.map((r) => r.body.errorType)).toEqual(['totp-invalid', 'totp-invalid', 'totp-invalid', 'totp-invalid']);
      expect((await h.createToken(subject, { agent: h.newAgent(), code: second, method: 'email' })).status).toBe(200);
    });
  });

  describe('account lockout (LOCKOUT_THRESHOLD 10, from LOCKOUT_BASE_SECONDS 30)', () => {
    it('after 10 consecutive failures even a right code is refused until the lock ends', async () => {
      expect(t.config.LOCKOUT_THRESHOLD).toBe(10);
      expect(t.config.LOCKOUT_BASE_SECONDS).toBe(30);
      const subject = await h.loggedInUser();
      const first = await h.requestCode(subject);

      const failures = await h.wrongCodes(subject, first, 10);
      expect(failures.map((r) => r.status)).toEqual(Array(10).fill(400));
      // Every fifth wrong code is totp-max-attempts (the codes die each time).
      expect(failures.map((r) => r.body.errorType)).toEqual([
        ...Array(4).fill('totp-invalid'),
        'totp-max-attempts',
        ...Array(4).fill('totp-invalid'),
        'totp-max-attempts',
      ]);

      // Locked: no code is mailed and nothing is checked; the answer says until when.
      await t.mailSettled();
      const mailsBefore = t.mail.messages.length;
      const lockedAt = t.clock.now().getTime();
      const locked = await h.createToken(subject, { agent: h.newAgent() });
      expect(locked.status).toBe(400);
      expect(locked.body).toEqual({
        success: false,
        error: 'Too many failed attempts; try again later [totp-max-attempts]',
        errorType: 'totp-max-attempts',
        details: { ...emailDetails(subject.user.email, false), lockedUntil: expect.stringMatching(ISO_DATE) },
      });
      const lockSeconds = (Date.parse(locked.body.details.lockedUntil) - lockedAt) / 1000;
      expect(lockSeconds).toBeGreaterThan(t.config.LOCKOUT_BASE_SECONDS - 5);
      expect(lockSeconds).toBeLessThanOrEqual(t.config.LOCKOUT_BASE_SECONDS);
      expect(t.mail.messages.length).toBe(mailsBefore);
      // Nor through users.2fa.sendEmailCode (the same answer as ever; the work happens after it).
      const resend = await api.post('/api/v1/users.2fa.sendEmailCode', { emailOrUsername: subject.user.username });
      expect(resend.body).toEqual({ success: true });
      await expect(
        t.mail.waitFor((m) => m.to.includes(subject.user.email), { after: mailsBefore, timeoutMs: 700 }),
      ).rejects.toThrow(/No matching mail/);
      expect(await countPersonalTokens(subject.user.userId)).toBe(0);

      // Once the lock has passed, codes are mailed and accepted again.
      t.clock.advance(t.config.LOCKOUT_BASE_SECONDS + 1);
      const code = await h.requestCode(subject);
      const unlocked = await h.createToken(subject, { agent: h.newAgent(), code, method: 'email' });
      expect(unlocked.status).toBe(200);
      expect(unlocked.body).toEqual(tokenCreated);

      // The success reset the consecutive count: one more failure does not lock the account again.
      const next = await h.requestCode(subject);
      const [wrong] = await h.wrongCodes(subject, next, 1);
      expect(wrong!.body).toEqual(totpInvalid(subject.user.email));
      const afterReset = await h.createToken(subject, { agent: h.newAgent(), code: next, method: 'email' });
      expect(afterReset.status).toBe(200);
    });

    it('a burst of parallel wrong codes gets no more checks than a sequence: counted before checking, locked at 10', async () => {
      const subject = await h.loggedInUser();
      const code = await h.requestCode(subject);
      const burst = await Promise.all(
        Array.from({ length: 30 }, () => h.createToken(subject, { agent: h.newAgent(), code: otherCode(code), method: 'email' })),
      );
      expect(burst.map((r) => r.status)).toEqual(Array(30).fill(400));
      expect(new Set(burst.map((r) => r.body.errorType))).toEqual(new Set(['totp-invalid', 'totp-max-attempts']));
      // Checked wrong codes answer totp-invalid: at most 4 per EMAIL_CODE_MAX_ATTEMPTS round, two rounds before the lock.
      expect(burst.filter((r) => r.body.errorType === 'totp-invalid').length).toBeLessThanOrEqual(8);
      const [row] = await t.db.query('SELECT consecutive_failures, locked_until FROM second_factor_failures WHERE user_id = $1', [
        subject.user.userId,
      ]);
      expect(row.consecutive_failures).toBe(t.config.LOCKOUT_THRESHOLD);
      expect(row.locked_until.getTime()).toBeGreaterThan(t.clock.now().getTime());
      const after = await h.createToken(subject, { agent: h.newAgent(), code, method: 'email' });
      expect(after.body).toMatchObject({
        errorType: 'totp-max-attempts',
        details: { lockedUntil: expect.stringMatching(ISO_DATE) },
      });
    });

    it('a failure during a lock is not counted, and the next failure after it doubles the lock', async () => {
      const subject = await h.loggedInUser();
      const first = await h.requestCode(subject);
      await h.wrongCodes(subject, first, 10);

      const during = await h.createToken(subject, { agent: h.newAgent(), code: '000000', method: 'email' });
      expect(during.body.errorType).toBe('totp-max-attempts');
      expect(during.body.details).toEqual({
        ...emailDetails(subject.user.email, false),
        lockedUntil: expect.stringMatching(ISO_DATE),
      });

      t.clock.advance(t.config.LOCKOUT_BASE_SECONDS + 1);
      const code = await h.requestCode(subject);
      // The 11th consecutive failure: locked for twice the base delay.
      await h.wrongCodes(subject, code, 1);
      const lockedAt = t.clock.now().getTime();
      const locked = await h.createToken(subject, { agent: h.newAgent(), code, method: 'email' });
      expect(locked.body.errorType).toBe('totp-max-attempts');
      const lockSeconds = (Date.parse(locked.body.details.lockedUntil) - lockedAt) / 1000;
      expect(lockSeconds).toBeGreaterThan(2 * t.config.LOCKOUT_BASE_SECONDS - 5);
      expect(lockSeconds).toBeLessThanOrEqual(2 * t.config.LOCKOUT_BASE_SECONDS);

      t.clock.advance(2 * t.config.LOCKOUT_BASE_SECONDS + 1);
      expect((await h.createToken(subject, { agent: h.newAgent(), code, method: 'email' })).status).toBe(200);
    });
  });

  describe('password fallback', () => {
    /** A logged-in user who turned email 2FA off (through the handshake), so has no second factor. */
    async function userWithoutSecondFactor(): Promise<Subject> {
      const subject = await h.loggedInUser();
      const agent = h.newAgent();
      const before = t.mail.messages.length;
      const asked = await h.call(DISABLE_EMAIL_ROUTE, subject, { agent });
      expect(asked.body).toEqual(totpRequired(subject.user.email));
      const code = await t.mail.codeFor(subject.user.email, { after: before });
      const disabled = await h.call(DISABLE_EMAIL_ROUTE, subject, { agent, code, method: 'email' });
      expect(disabled.status).toBe(200);
      expect(disabled.body).toEqual({ success: true });
      const me = await api.get('/api/v1/me', { auth: subject.auth });
      expect(me.body.services.email2fa.enabled).toBe(false);
      return subject;
    }

    const passwordDetails = (email: string) => ({
      method: 'password',
      codeGenerated: false,
      emailOrUsername: email,
      availableMethods: [],
    });

    it('a user without a second factor is asked for the password, and no mail is sent', async () => {
      const subject = await userWithoutSecondFactor();
      const mailed = t.mail.codeMailCount(subject.user.email);

      const asked = await h.createToken(subject, { agent: h.newAgent() });

      expect(asked.status).toBe(400);
      expect(asked.body).toEqual({
        success: false,
        error: 'TOTP Required [totp-required]',
        errorType: 'totp-required',
        details: passwordDetails(subject.user.email),
      });
      expect(t.mail.codeMailCount(subject.user.email)).toBe(mailed);
    });

    it('x-2fa-method password with the hex SHA-256 of the password passes', async () => {
      const subject = await userWithoutSecondFactor();
      const response = await h.createToken(subject, {
        agent: h.newAgent(),
        code: sha256(subject.user.password),
        method: 'password',
      });
      expect(response.status).toBe(200);
      expect(response.body).toEqual(tokenCreated);
    });

    it('a wrong password hash answers totp-invalid', async () => {
      const subject = await userWithoutSecondFactor();
      for (const code of [sha256(`${subject.user.password}x`), subject.user.password]) {
        const response = await h.createToken(subject, { agent: h.newAgent(), code, method: 'password' });
        expect(response.status).toBe(400);
        expect(response.body).toEqual({
          success: false,
          error: 'TOTP Invalid [totp-invalid]',
          errorType: 'totp-invalid',
          details: passwordDetails(subject.user.email),
        });
      }
      expect(await countPersonalTokens(subject.user.userId)).toBe(0);
    });

    it('the password is refused as a second factor while email 2FA is enabled', async () => {
      const subject = await h.loggedInUser();
      const mailed = t.mail.codeMailCount(subject.user.email);

      const response = await h.createToken(subject, {
        agent: h.newAgent(),
        code: sha256(subject.user.password),
        method: 'password',
      });

      expect(response.status).toBe(400);
      expect(response.body).toEqual(totpInvalid(subject.user.email));
      expect(await countPersonalTokens(subject.user.userId)).toBe(0);
      expect(t.mail.codeMailCount(subject.user.email)).toBe(mailed);
    });
  });

  describe('personal access tokens', () => {
    /** Creates a personal access token through the handshake. */
    async function personalToken(subject: Subject, bypassTwoFactor: boolean): Promise<Credentials> {
      const agent = h.newAgent();
      const code = await h.requestCode(subject, agent);
      const created = await h.createToken(subject, { agent, code, method: 'email' }, { bypassTwoFactor });
      expect(created.status).toBe(200);
      expect(created.body).toEqual(tokenCreated);
      return { userId: subject.user.userId, authToken: created.body.token };
    }

    it('a token created with bypassTwoFactor: true skips the handshake', async () => {
      const subject = await h.loggedInUser();
      const bypass = await personalToken(subject, true);
      const mailed = t.mail.codeMailCount(subject.user.email);

      const response = await h.createToken(subject, { agent: h.newAgent(), auth: bypass });

      expect(response.status).toBe(200);
      expect(response.body).toEqual(tokenCreated);
      expect(t.mail.codeMailCount(subject.user.email)).toBe(mailed);
    });

    it('a token created without bypassTwoFactor goes through the handshake', async () => {
      const subject = await h.loggedInUser();
      const plain = await personalToken(subject, false);
      const agent = h.newAgent();
      const before = t.mail.messages.length;

      const asked = await h.createToken(subject, { agent, auth: plain });
      expect(asked.status).toBe(400);
      expect(asked.body).toEqual(totpRequired(subject.user.email));

      const code = await t.mail.codeFor(subject.user.email, { after: before });
      const answered = await h.createToken(subject, { agent, auth: plain, code, method: 'email' });
      expect(answered.status).toBe(200);
      expect(answered.body).toEqual(tokenCreated);
    });
  });

  it('the handshake guards deleteOwnAccount: nothing is deleted without the code', async () => {
    const subject = await h.loggedInUser();
    const agent = h.newAgent();
    const before = t.mail.messages.length;
    const asked = await h.call(DELETE_ACCOUNT_ROUTE, subject, { agent });
    expect(asked.body).toEqual(totpRequired(subject.user.email));
    const code = await t.mail.codeFor(subject.user.email, { after: before });

    const wrong = await h.call(DELETE_ACCOUNT_ROUTE, subject, { agent, code: otherCode(code), method: 'email' });
    expect(wrong.body).toEqual(totpInvalid(subject.user.email));
    const [stillThere] = await t.db.query('SELECT count(*)::int AS n FROM users WHERE id = $1', [subject.user.userId]);
    expect(stillThere.n).toBe(1);

    const deleted = await h.call(DELETE_ACCOUNT_ROUTE, subject, { agent, code, method: 'email' });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ success: true });
    const [gone] = await t.db.query('SELECT count(*)::int AS n FROM users WHERE id = $1', [subject.user.userId]);
    expect(gone.n).toBe(0);
  });
});

describe('2FA handshake with TWO_FACTOR_EMAIL_AUTO_OPT_IN=false and a small lockout', () => {
  let t: TestApp;
  let api: Api;
  const h = handshake(() => ({ t, api }));

  beforeAll(async () => {
    t = await createTestApp({
      TWO_FACTOR_EMAIL_AUTO_OPT_IN: 'false',
      EMAIL_CODE_MAX_ATTEMPTS: '2',
      LOCKOUT_THRESHOLD: '3',
      LOCKOUT_BASE_SECONDS: '10',
    });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('a user who never opted in is asked for the password; its hash passes', async () => {
    const subject = await h.loggedInUser();
    const asked = await h.createToken(subject, { agent: h.newAgent() });
    expect(asked.status).toBe(400);
    expect(asked.body).toEqual({
      success: false,
      error: 'TOTP Required [totp-required]',
      errorType: 'totp-required',
      details: { method: 'password', codeGenerated: false, emailOrUsername: subject.user.email, availableMethods: [] },
    });
    const answered = await h.createToken(subject, {
      agent: h.newAgent(),
      code: sha256(subject.user.password),
      method: 'password',
    });
    expect(answered.status).toBe(200);
  });

  it('a user who opted in gets codes; max attempts and lockout follow the configured values', async () => {
    const subject = await h.loggedInUser();
    const enabled = await api.post('/api/v1/users.2fa.enableEmail', undefined, { auth: subject.auth });
    expect(enabled.body).toEqual({ success: true });

    const code = await h.requestCode(subject);
    const failures = await h.wrongCodes(subject, code, 2);
    expect(failures.map((r) => r.body.errorType)).toEqual(['totp-invalid', 'totp-max-attempts']);

    // The third consecutive failure locks; a right code issued before it is refused while locked.
    const fresh = await h.requestCode(subject);
    const [third] = await h.wrongCodes(subject, fresh, 1);
    expect(third!.body.errorType).toBe('totp-invalid');
    const locked = await h.createToken(subject, { agent: h.newAgent(), code: fresh, method: 'email' });
    expect(locked.status).toBe(400);
    expect(locked.body.errorType).toBe('totp-max-attempts');
    expect(locked.body.details).toEqual({
      ...emailDetails(subject.user.email, false),
      lockedUntil: expect.stringMatching(ISO_DATE),
    });

    t.clock.advance(11);
    const unlocked = await h.createToken(subject, { agent: h.newAgent(), code: fresh, method: 'email' });
    expect(unlocked.status).toBe(200);
  });
});
