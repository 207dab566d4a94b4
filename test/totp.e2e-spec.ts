import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  type ApiResponse,
  type Credentials,
  loginWithEmailCode,
  registerVerifiedUser,
  type TestUser,
  uniqueName,
} from './helpers/api.js';
import { base32Decode, hotp, timeStep, totp } from './helpers/rfc6238.js';
import { PAT_ROUTE } from './helpers/routes.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { BackupCodeStrategy } from '../src/two-factor/strategies/backup-code.strategy.js';
import { TotpStrategy } from '../src/two-factor/strategies/totp.strategy.js';
import type { User } from '../src/users/user.entity.js';

/**
 * TOTP (users.2fa.enableTOTP / validateTOTP / disableTOTP) and backup codes (regenerateBackupCodes,
 * backupCodesRemaining) on surface 1, end to end: real database, real mail. Every TOTP code is
 * computed with the independent RFC 6238 implementation in helpers/rfc6238.ts, never with otplib.
 * The app runs with TWO_FACTOR_REQUIRED_ROLES=admin and an ADMIN_* user for the policy tests;
 * ordinary users (role "user") are not affected by it.
 */

const PERIOD = 30;
const BACKUP_CODE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{10}$/;
const ADMIN = { username: uniqueName('admin'), password: 'admin password 123' };
const ADMIN_EMAIL = `${ADMIN.username}@example.com`;

describe('RFC 6238 reference implementation used by these tests (unit)', () => {
  // RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
  const RFC_SECRET_BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

  it('decodes base32 (RFC 4648)', () => {
    expect(base32Decode(RFC_SECRET_BASE32).toString('ascii')).toBe('12345678901234567890');
    expect(base32Decode('mzxw6ytb oi======').toString('ascii')).toBe('foobar');
    expect(() => base32Decode('ABC1')).toThrow('Not a base32 character');
  });

  it('matches the RFC 4226 Appendix D HOTP values', () => {
    const key = Buffer.from('12345678901234567890', 'ascii');
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expect(expected.map((_, counter) => hotp(key, counter))).toEqual(expected);
  });

  it('matches the RFC 6238 Appendix B SHA-1 test vectors', () => {
    const vectors: Array<[number, string]> = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ];
    for (const [seconds, code] of vectors) {
      expect(totp(RFC_SECRET_BASE32, seconds * 1000, { digits: 8 })).toBe(code);
    }
    expect(timeStep(59_000)).toBe(1);
    expect(timeStep(1111111109_000)).toBe(0x23523ec);
  });
});

describe('TOTP and backup codes (surface 1)', () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await createTestApp({
      TWO_FACTOR_REQUIRED_ROLES: 'admin',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_EMAIL,
      ADMIN_PASSWORD: ADMIN.password,
    });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  interface Subject {
    user: TestUser;
    auth: Credentials;
    /** The user agent the login (and so the remembered second factor) belongs to. */
    agent: string;
  }

  interface TotpSubject extends Subject {
    secret: string;
    backupCodes: string[];
  }

  let agentSequence = 0;
  /** A user agent no other request used: the remember window is bound to user agent + address. */
  const newAgent = (): string => `tfa-totp-tests/${++agentSequence}`;

  /**
   * Moves the service's clock to 1 s into the next time step: the step used before is over, and
   * the test has ~29 s before the step changes under it.
   */
  const nextStep = (): void => {
    const secondsIntoStep = (t.clock.now().getTime() / 1000) % PERIOD;
    t.clock.advance(PERIOD - secondsIntoStep + 1);
  };

  /** The code of `secret` at the service's now, shifted by `offsetSeconds`. */
  const codeAt = (secret: string, offsetSeconds = 0): string => totp(secret, t.clock.now().getTime() + offsetSeconds * 1000);

  async function loggedInUser(): Promise<Subject> {
    const user = await registerVerifiedUser(api, t);
    const agent = newAgent();
    const auth = await loginWithEmailCode(api, t, user, { 'user-agent': agent });
    return { user, auth, agent };
  }

  const enableTotpRequest = (auth: Credentials) => api.post('/api/v1/users.2fa.enableTOTP', undefined, { auth });
  /** From the client that logged in with its second factor, so the handshake remembers it. */
  const validateTotpRequest = (subject: Subject, code: string) =>
    api.post('/api/v1/users.2fa.validateTOTP', { code }, { auth: subject.auth, headers: { 'user-agent': subject.agent } });
  const remaining = async (auth: Credentials): Promise<number> => {
    const response = await api.get('/api/v1/users.2fa.backupCodesRemaining', { auth });
    expect(response.status).toBe(200);
    return response.body.remaining;
  };
  const me = async (auth: Credentials) => {
    const response = await api.get('/api/v1/me', { auth });
    expect(response.status).toBe(200);
    return response.body;
  };

  /** enableTOTP + validateTOTP; afterwards the clock is in the step after the one validateTOTP used. */
  async function withTotp(subject: Subject): Promise<TotpSubject> {
    const setup = await enableTotpRequest(subject.auth);
    expect(setup.status).toBe(200);
    nextStep();
    const validated = await validateTotpRequest(subject, codeAt(setup.body.secret));
    expect(validated.status).toBe(200);
    nextStep();
    return { ...subject, secret: setup.body.secret, backupCodes: validated.body.backupCodes };
  }

  const totpUser = async (): Promise<TotpSubject> => withTotp(await loggedInUser());

  /** A @Requires2FA request with its own user agent (nothing remembered), answering with `code` for `method`. */
  function secondFactorCall(
    route: string,
    subject: Subject,
    options: { code?: string; method?: string; agent?: string } = {},
    body?: unknown,
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = { 'user-agent': options.agent ?? newAgent() };
    if (options.code !== undefined) headers['x-2fa-code'] = options.code;
    if (options.method !== undefined) headers['x-2fa-method'] = options.method;
    return api.post(route, body, { auth: subject.auth, headers });
  }

  const createToken = (subject: Subject, options: { code?: string; method?: string; agent?: string } = {}) =>
    secondFactorCall(PAT_ROUTE, subject, options, { tokenName: uniqueName('token') });

  const login = (user: TestUser, code?: string) =>
    api.post(
      '/api/v1/login',
      { user: user.username, password: user.password, ...(code === undefined ? {} : { code }) },
      {
        headers: { 'user-agent': newAgent() },
      },
    );

  const totpDetails = (subject: Subject) => ({
    method: 'totp',
    codeGenerated: false,
    emailOrUsername: subject.user.email,
    availableMethods: ['totp', 'email'],
  });
  const totpRequiredBody = (subject: Subject) => ({
    success: false,
    error: 'TOTP Required [totp-required]',
    errorType: 'totp-required',
    details: totpDetails(subject),
  });
  const totpInvalidBody = (subject: Subject) => ({
    success: false,
    error: 'TOTP Invalid [totp-invalid]',
    errorType: 'totp-invalid',
    details: totpDetails(subject),
  });
  const INVALID_CODE = { success: false, error: 'Invalid code [error-invalid-code]', errorType: 'error-invalid-code' };
  const ALREADY_ENABLED = {
    success: false,
    error: 'TOTP is already enabled [error-totp-already-enabled]',
    errorType: 'error-totp-already-enabled',
  };

  const totpRow = async (userId: string) => {
    const rows: Array<{ status: string; secret_encrypted: string | null; last_totp_step: string | null }> = await t.db.query(
      `SELECT status, secret_encrypted, last_totp_step FROM two_factor_methods WHERE user_id = $1 AND method = 'totp'`,
      [userId],
    );
    return rows[0] ?? null;
  };

  const events = async (auth: Credentials) => {
    const response = await api.get('/api/v1/users.2fa.events?count=100', { auth });
    expect(response.status).toBe(200);
    return response.body.events as Array<{ type: string; method: string | null; outcome: string }>;
  };

  describe('set-up', () => {
    it('enableTOTP answers a base32 secret, an otpauth:// URL with issuer and account and a PNG QR code; TOTP stays off until validated', async () => {
      const subject = await loggedInUser();
      const response = await enableTotpRequest(subject.auth);
      expect(response.status).toBe(200);
      expect(Object.keys(response.body).sort()).toEqual(['qrCode', 'secret', 'success', 'url']);
      expect(response.body.success).toBe(true);
      const { secret, url, qrCode } = response.body;
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(base32Decode(secret)).toHaveLength(20);

      const parsed = new URL(url);
      expect(parsed.protocol).toBe('otpauth:');
      expect(parsed.host).toBe('totp');
      expect(decodeURIComponent(parsed.pathname)).toBe(`/Two-Factor:${subject.user.username}`);
      expect(parsed.searchParams.get('secret')).toBe(secret);
      expect(parsed.searchParams.get('issuer')).toBe('Two-Factor');
      // Defaults that apps assume when absent; if present they must say the same.
      expect(parsed.searchParams.get('algorithm') ?? 'SHA1').toBe('SHA1');
      expect(parsed.searchParams.get('digits') ?? '6').toBe('6');
      expect(parsed.searchParams.get('period') ?? '30').toBe('30');

      expect(qrCode).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
      const png = Buffer.from(qrCode.slice('data:image/png;base64,'.length), 'base64');
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      expect(png.readUInt32BE(16)).toBeGreaterThan(20); // IHDR width

      expect((await me(subject.auth)).services).toEqual({ email2fa: { enabled: true }, totp: { enabled: false } });
      expect(await totpRow(subject.user.userId)).toMatchObject({ status: 'pending', last_totp_step: null });
      // Pending is not offered: the route still asks for the emailed code.
      const route = await createToken(subject);
      expect(route.status).toBe(400);
      expect(route.body.details).toMatchObject({ method: 'email', availableMethods: ['email'] });
    });

    it('validateTOTP with an RFC 6238 code turns TOTP on and returns 10 backup codes; routes then ask for totp first and accept its code', async () => {
      const subject = await loggedInUser();
      const setup = await enableTotpRequest(subject.auth);
      nextStep();
      const validated = await validateTotpRequest(subject, codeAt(setup.body.secret));
      expect(validated.status).toBe(200);
      expect(Object.keys(validated.body).sort()).toEqual(['backupCodes', 'success']);
      expect(validated.body.success).toBe(true);
      const backupCodes: string[] = validated.body.backupCodes;
      expect(backupCodes).toHaveLength(10);
      for (const code of backupCodes) expect(code).toMatch(BACKUP_CODE);
      expect(new Set(backupCodes).size).toBe(10);

      expect((await me(subject.auth)).services).toEqual({ email2fa: { enabled: true }, totp: { enabled: true } });
      expect(await totpRow(subject.user.userId)).toMatchObject({ status: 'enabled' });

      await t.mailSettled();
      const mailsBefore = t.mail.messages.length;
      const asked = await createToken(subject);
      expect(asked.status).toBe(400);
      expect(asked.body).toEqual(totpRequiredBody(subject));
      expect(t.mail.messages.length).toBe(mailsBefore); // nothing mailed for the totp method

      nextStep();
      const accepted = await createToken(subject, { code: codeAt(setup.body.secret), method: 'totp' });
      expect(accepted.status).toBe(200);
      expect(accepted.body).toEqual({ success: true, token: expect.any(String) });

      expect(await events(subject.auth)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'method_enabled', method: 'totp', outcome: 'success' }),
          expect.objectContaining({ type: 'second_factor_verified', method: 'totp', outcome: 'success' }),
        ]),
      );
    });

    it('a session alone cannot enrol TOTP for a user who has a second factor: validateTOTP goes through the handshake', async () => {
      const subject = await loggedInUser();
      // The same token from another client (a stolen one): nothing is remembered for it.
      const thief = { auth: subject.auth, headers: { 'user-agent': newAgent() } };
      const setup = await api.post('/api/v1/users.2fa.enableTOTP', undefined, thief);
      expect(setup.status).toBe(200);
      nextStep();
      const before = t.mail.messages.length;
      const refused = await api.post('/api/v1/users.2fa.validateTOTP', { code: codeAt(setup.body.secret) }, thief);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({
        errorType: 'totp-required',
        details: { method: 'email', availableMethods: ['email'] },
      });
      expect((await me(subject.auth)).services.totp).toEqual({ enabled: false });

      // The owner, with the code the handshake mailed, enrols.
      const emailed = await t.mail.codeFor(subject.user.email, { after: before });
      const owner = await api.post(
        '/api/v1/users.2fa.validateTOTP',
        { code: codeAt(setup.body.secret) },
        { auth: subject.auth, headers: { 'user-agent': newAgent(), 'x-2fa-code': emailed, 'x-2fa-method': 'email' } },
      );
      expect(owner.status).toBe(200);
      expect(owner.body.backupCodes).toHaveLength(10);
    });

    it('a user with no second factor yet enrols TOTP with the session alone', async () => {
      const username = uniqueName('first');
      const registered = await api.post('/api/v1/users.register', {
        username,
        email: `${username}@example.com`,
        pass: 'a long password',
        name: 'F',
      });
      expect(registered.status).toBe(200);
      // Unverified email: no method is in effect, so login needs no second factor.
      const login = await api.post('/api/v1/login', { user: username, password: 'a long password' });
      expect(login.status).toBe(200);
      const auth = { userId: login.body.data.userId, authToken: login.body.data.authToken };
      const setup = await api.post('/api/v1/users.2fa.enableTOTP', undefined, { auth });
      nextStep();
      const validated = await api.post('/api/v1/users.2fa.validateTOTP', { code: codeAt(setup.body.secret) }, { auth });
      expect(validated.status).toBe(200);
      expect((await me(auth)).services.totp).toEqual({ enabled: true });
    });

    it('validateTOTP refuses a wrong code and a call without a pending set-up (error-invalid-code); a missing code is error-parameter-required', async () => {
      const subject = await loggedInUser();
      const noSetup = await validateTotpRequest(subject, '123456');
      expect(noSetup.status).toBe(400);
      expect(noSetup.body).toEqual({
        success: false,
        error: 'No TOTP set-up is pending; call users.2fa.enableTOTP first [error-invalid-code]',
        errorType: 'error-invalid-code',
      });

      const setup = await enableTotpRequest(subject.auth);
      nextStep();
      const right = codeAt(setup.body.secret);
      const wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
      for (const code of [wrong, codeAt(setup.body.secret, 3 * PERIOD), 'abcdef', '12345']) {
        const refused = await validateTotpRequest(subject, code);
        expect(refused.status).toBe(400);
        expect(refused.body).toEqual(INVALID_CODE);
      }
      const missing = await api.post(
        '/api/v1/users.2fa.validateTOTP',
        {},
        { auth: subject.auth, headers: { 'user-agent': subject.agent } },
      );
      expect(missing.status).toBe(400);
      expect(missing.body.errorType).toBe('error-parameter-required');
      expect((await me(subject.auth)).services.totp).toEqual({ enabled: false });

      const accepted = await validateTotpRequest(subject, right);
      expect(accepted.status).toBe(200);
      expect((await me(subject.auth)).services.totp).toEqual({ enabled: true });
    });

    it('enableTOTP again while pending replaces the secret; once enabled it answers error-totp-already-enabled and keeps the secret', async () => {
      const subject = await loggedInUser();
      const first = await enableTotpRequest(subject.auth);
      const second = await enableTotpRequest(subject.auth);
      expect(second.status).toBe(200);
      expect(second.body.secret).not.toBe(first.body.secret);

      nextStep();
      const stale = await validateTotpRequest(subject, codeAt(first.body.secret));
      expect(stale.status).toBe(400);
      expect(stale.body).toEqual(INVALID_CODE);
      const validated = await validateTotpRequest(subject, codeAt(second.body.secret));
      expect(validated.status).toBe(200);

      const stored = await totpRow(subject.user.userId);
      const again = await enableTotpRequest(subject.auth);
      expect(again.status).toBe(400);
      expect(again.body).toEqual(ALREADY_ENABLED);
      const revalidate = await validateTotpRequest(subject, codeAt(second.body.secret, PERIOD));
      expect(revalidate.status).toBe(400);
      expect(revalidate.body).toEqual(ALREADY_ENABLED);
      expect(await totpRow(subject.user.userId)).toEqual(stored);

      nextStep();
      const route = await createToken(subject, { code: codeAt(second.body.secret), method: 'totp' });
      expect(route.status).toBe(200);
    });

    it('turning TOTP on ends the other login sessions of the user, not the current one', async () => {
      const subject = await loggedInUser();
      const other = await loginWithEmailCode(api, t, subject.user, { 'user-agent': newAgent() });
      expect((await api.get('/api/v1/me', { auth: other })).status).toBe(200);

      const setup = await enableTotpRequest(subject.auth);
      // Only a pending secret so far: nothing ends yet.
      expect((await api.get('/api/v1/me', { auth: other })).status).toBe(200);
      nextStep();
      expect((await validateTotpRequest(subject, codeAt(setup.body.secret))).status).toBe(200);

      const ended = await api.get('/api/v1/me', { auth: other });
      expect(ended.status).toBe(401);
      expect(ended.body).toEqual({ status: 'error', message: 'You must be logged in to do this.' });
      expect((await api.get('/api/v1/me', { auth: subject.auth })).status).toBe(200);
    });

    it('stores the secret AES-GCM encrypted: the column holds neither the secret nor its bytes, and differs per encryption', async () => {
      const subject = await loggedInUser();
      const first = await enableTotpRequest(subject.auth);
      const firstStored = (await totpRow(subject.user.userId))!.secret_encrypted!;
      const { secret } = first.body;
      expect(firstStored).not.toBe(secret);
      expect(firstStored.toUpperCase()).not.toContain(secret);
      expect(firstStored).not.toContain(base32Decode(secret).toString('hex'));
      expect(firstStored).not.toContain(base32Decode(secret).toString('base64url'));
      expect(firstStored).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);

      const whole: Array<{ row: string }> = await t.db.query(
        `SELECT row_to_json(m)::text AS row FROM two_factor_methods m WHERE user_id = $1`,
        [subject.user.userId],
      );
      for (const { row } of whole) expect(row.toUpperCase()).not.toContain(secret);
    });
  });

  describe('TOTP codes', () => {
    it('a code is accepted once: the same code again is refused, on a route and at login', async () => {
      const subject = await totpUser();
      const code = codeAt(subject.secret);
      expect((await createToken(subject, { code, method: 'totp' })).status).toBe(200);

      const replayed = await createToken(subject, { code, method: 'totp' });
      expect(replayed.status).toBe(400);
      expect(replayed.body).toEqual(totpInvalidBody(subject));

      const loginReplay = await login(subject.user, code);
      expect(loginReplay.status).toBe(401);
      expect(loginReplay.body).toMatchObject({ status: 'error', error: 'totp-invalid', message: 'TOTP Invalid' });

      nextStep();
      const fresh = codeAt(subject.secret);
      const loggedIn = await login(subject.user, fresh);
      expect(loggedIn.status).toBe(200);
      expect(loggedIn.body).toMatchObject({
        status: 'success',
        data: { userId: subject.user.userId, authToken: expect.any(String) },
      });
      const again = await login(subject.user, fresh);
      expect(again.status).toBe(401);
      expect(again.body).toMatchObject({ status: 'error', error: 'totp-invalid' });
    });

    it('parallel requests with one code: exactly one succeeds (route and login)', async () => {
      const subject = await totpUser();
      const code = codeAt(subject.secret);
      const routeAnswers = await Promise.all([1, 2, 3, 4].map(() => createToken(subject, { code, method: 'totp' })));
      expect(routeAnswers.map((answer) => answer.status).sort()).toEqual([200, 400, 400, 400]);
      for (const answer of routeAnswers.filter((a) => a.status === 400)) expect(answer.body).toEqual(totpInvalidBody(subject));

      nextStep();
      const loginCode = codeAt(subject.secret);
      const loginAnswers = await Promise.all([1, 2].map(() => login(subject.user, loginCode)));
      expect(loginAnswers.map((answer) => answer.status).sort()).toEqual([200, 401]);

      // HTTP requests rarely overlap inside the read-check-write window; in-process calls always
      // do (every read is issued before any write), so this is where the atomic UPDATE must hold.
      nextStep();
      const totpStrategy = t.app.get(TotpStrategy, { strict: false });
      const user = { id: subject.user.userId } as User;
      const sameStep = codeAt(subject.secret);
      const verdicts = await Promise.all([1, 2, 3, 4, 5].map(() => totpStrategy.verify(user, sameStep, t.db.manager)));
      expect(verdicts.filter((verdict) => verdict === 'verified')).toHaveLength(1);
    });

    it('accepts codes one time step either side and refuses two steps away; a step before the last accepted one is refused', async () => {
      const subject = await totpUser();
      // Two steps further on, so the steps around now were never used.
      t.clock.advance(2 * PERIOD);
      for (const offset of [-2 * PERIOD, 2 * PERIOD]) {
        const refused = await createToken(subject, { code: codeAt(subject.secret, offset), method: 'totp' });
        expect(refused.status).toBe(400);
        expect(refused.body).toEqual(totpInvalidBody(subject));
      }
      expect((await createToken(subject, { code: codeAt(subject.secret, -PERIOD), method: 'totp' })).status).toBe(200);
      expect((await createToken(subject, { code: codeAt(subject.secret, PERIOD), method: 'totp' })).status).toBe(200);
      // The current step lies before the step just accepted (+1): refused although inside the window.
      const earlier = await createToken(subject, { code: codeAt(subject.secret), method: 'totp' });
      expect(earlier.status).toBe(400);
      expect(earlier.body).toEqual(totpInvalidBody(subject));
    });

    it('login names totp first for a user with both methods, mails nothing, and completes with a TOTP code', async () => {
      const subject = await totpUser();
      await t.mailSettled();
      const mailsBefore = t.mail.messages.length;
      const asked = await login(subject.user);
      expect(asked.status).toBe(401);
      expect(asked.body).toMatchObject({
        status: 'error',
        error: 'totp-required',
        message: 'TOTP Required',
        details: {
          method: 'totp',
          codeGenerated: false,
          emailOrUsername: subject.user.email,
          availableMethods: ['totp', 'email'],
        },
      });
      expect(t.mail.messages.length).toBe(mailsBefore);

      const done = await login(subject.user, codeAt(subject.secret));
      expect(done.status).toBe(200);
      expect(done.body.data.me.services).toEqual({ email2fa: { enabled: true }, totp: { enabled: true } });
    });
  });

  describe('backup codes', () => {
    it('a backup code works once with x-2fa-method totp (any case, spaces and dashes ignored); remaining goes 10 → 9 → 8', async () => {
      const subject = await totpUser();
      expect(await remaining(subject.auth)).toBe(10);
      const [first, second] = subject.backupCodes as [string, string];

      expect((await createToken(subject, { code: first, method: 'totp' })).status).toBe(200);
      expect(await remaining(subject.auth)).toBe(9);
      const reused = await createToken(subject, { code: first, method: 'totp' });
      expect(reused.status).toBe(400);
      expect(reused.body).toEqual(totpInvalidBody(subject));
      expect(await remaining(subject.auth)).toBe(9);

      const typed = ` ${second.slice(0, 5).toLowerCase()}-${second.slice(5)} `;
      expect((await createToken(subject, { code: typed, method: 'totp' })).status).toBe(200);
      expect(await remaining(subject.auth)).toBe(8);
    });

    it('login with a backup code as `code` works once', async () => {
      const subject = await totpUser();
      const code = subject.backupCodes[3]!;
      const loggedIn = await login(subject.user, code);
      expect(loggedIn.status).toBe(200);
      expect(loggedIn.body).toMatchObject({ status: 'success', data: { userId: subject.user.userId } });
      const again = await login(subject.user, code);
      expect(again.status).toBe(401);
      expect(again.body).toMatchObject({ status: 'error', error: 'totp-invalid', message: 'TOTP Invalid' });
      expect(await remaining(subject.auth)).toBe(9);
    });

    it('parallel requests with one backup code: exactly one succeeds', async () => {
      const subject = await totpUser();
      const code = subject.backupCodes[0]!;
      const answers = await Promise.all([1, 2, 3].map(() => createToken(subject, { code, method: 'totp' })));
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400, 400]);
      expect(await remaining(subject.auth)).toBe(9);

      // In process, every call overlaps every other.
      const backupStrategy = t.app.get(BackupCodeStrategy, { strict: false });
      const user = { id: subject.user.userId } as User;
      const verdicts = await Promise.all(
        [1, 2, 3, 4, 5].map(() => backupStrategy.verify(user, subject.backupCodes[1]!, t.db.manager)),
      );
      expect(verdicts.filter((verdict) => verdict === 'verified')).toHaveLength(1);
      expect(await remaining(subject.auth)).toBe(8);
    });

    it('stores only keyed HMACs of the codes', async () => {
      const subject = await totpUser();
      const rows: Array<{ code_hmac: string; used_at: Date | null }> = await t.db.query(
        `SELECT code_hmac, used_at FROM backup_codes WHERE user_id = $1`,
        [subject.user.userId],
      );
      expect(rows).toHaveLength(10);
      const stored = JSON.stringify(rows).toUpperCase();
      for (const row of rows) {
        expect(row.code_hmac).toMatch(/^[0-9a-f]{64}$/);
        expect(row.used_at).toBeNull();
      }
      for (const code of subject.backupCodes) expect(stored).not.toContain(code);
    });

    it('regenerateBackupCodes asks for a second factor every time and replaces every code', async () => {
      const subject = await totpUser();
      const route = '/api/v1/users.2fa.regenerateBackupCodes';
      const agent = newAgent();
      const asked = await secondFactorCall(route, subject, { agent });
      expect(asked.status).toBe(400);
      expect(asked.body).toEqual(totpRequiredBody(subject));

      expect((await createToken(subject, { code: subject.backupCodes[0]!, method: 'totp' })).status).toBe(200);
      expect(await remaining(subject.auth)).toBe(9);

      const regenerated = await secondFactorCall(route, subject, { agent, code: codeAt(subject.secret), method: 'totp' });
      expect(regenerated.status).toBe(200);
      expect(Object.keys(regenerated.body).sort()).toEqual(['backupCodes', 'success']);
      const fresh: string[] = regenerated.body.backupCodes;
      expect(fresh).toHaveLength(10);
      for (const code of fresh) expect(code).toMatch(BACKUP_CODE);
      expect(fresh.filter((code) => subject.backupCodes.includes(code))).toEqual([]);
      expect(await remaining(subject.auth)).toBe(10);

      const old = await createToken(subject, { code: subject.backupCodes[1]!, method: 'totp' });
      expect(old.status).toBe(400);
      expect(old.body).toEqual(totpInvalidBody(subject));
      expect((await createToken(subject, { code: fresh[0]!, method: 'totp' })).status).toBe(200);

      // Not remembered: the same client right after a second factor is asked again.
      const askedAgain = await secondFactorCall(route, subject, { agent });
      expect(askedAgain.status).toBe(400);
      expect(askedAgain.body).toEqual(totpRequiredBody(subject));

      expect(await events(subject.auth)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'backup_codes_regenerated', method: 'totp', outcome: 'success' }),
        ]),
      );
    });

    it('without TOTP there are no backup codes: remaining is 0 and regenerating answers error-totp-not-enabled', async () => {
      const subject = await loggedInUser();
      expect(await remaining(subject.auth)).toBe(0);
      const agent = newAgent();
      const before = t.mail.messages.length;
      const asked = await secondFactorCall('/api/v1/users.2fa.regenerateBackupCodes', subject, { agent });
      expect(asked.status).toBe(400);
      expect(asked.body.errorType).toBe('totp-required');
      const code = await t.mail.codeFor(subject.user.email, { after: before });
      const refused = await secondFactorCall('/api/v1/users.2fa.regenerateBackupCodes', subject, {
        agent,
        code,
        method: 'email',
      });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({
        success: false,
        error: 'TOTP is not enabled [error-totp-not-enabled]',
        errorType: 'error-totp-not-enabled',
      });
      expect(await remaining(subject.auth)).toBe(0);
    });
  });

  describe('disableTOTP', () => {
    it('asks for a second factor every time, even right after one; then TOTP and its backup codes are gone', async () => {
      const subject = await totpUser();
      const agent = newAgent();
      expect((await createToken(subject, { agent, code: codeAt(subject.secret), method: 'totp' })).status).toBe(200);
      expect((await createToken(subject, { agent })).status).toBe(200); // remembered for this client

      const asked = await secondFactorCall('/api/v1/users.2fa.disableTOTP', subject, { agent });
      expect(asked.status).toBe(400);
      expect(asked.body).toEqual(totpRequiredBody(subject));
      expect((await me(subject.auth)).services.totp).toEqual({ enabled: true });

      nextStep();
      const disabled = await secondFactorCall('/api/v1/users.2fa.disableTOTP', subject, {
        agent,
        code: codeAt(subject.secret),
        method: 'totp',
      });
      expect(disabled.status).toBe(200);
      expect(disabled.body).toEqual({ success: true });
      expect((await me(subject.auth)).services).toEqual({ email2fa: { enabled: true }, totp: { enabled: false } });
      expect(await totpRow(subject.user.userId)).toBeNull();
      expect(await remaining(subject.auth)).toBe(0);
      const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM backup_codes WHERE user_id = $1`, [
        subject.user.userId,
      ]);
      expect(count).toBe(0);

      // Back to the emailed code; a backup code no longer counts.
      const backup = await createToken(subject, { code: subject.backupCodes[0]!, method: 'totp' });
      expect(backup.status).toBe(400);
      expect(backup.body).toMatchObject({ errorType: 'totp-invalid', details: { method: 'email', availableMethods: ['email'] } });

      expect(await events(subject.auth)).toEqual(
        expect.arrayContaining([expect.objectContaining({ type: 'method_disabled', method: 'totp', outcome: 'success' })]),
      );
      // It can be set up again.
      expect((await enableTotpRequest(subject.auth)).status).toBe(200);
    });
  });

  describe('policy: TWO_FACTOR_REQUIRED_ROLES=admin', () => {
    const POLICY_ERROR = {
      success: false,
      error:
        'Your role requires two-factor authentication: enable another method before switching this one off [error-2fa-required-by-policy]',
      errorType: 'error-2fa-required-by-policy',
    };

    async function adminSubject(): Promise<Subject> {
      const user: TestUser = { username: ADMIN.username, email: ADMIN_EMAIL, password: ADMIN.password, userId: '' };
      const agent = newAgent();
      const auth = await loginWithEmailCode(api, t, user, { 'user-agent': agent });
      return { user: { ...user, userId: auth.userId }, auth, agent };
    }

    it('an admin cannot switch off the last method (email or totp) but can switch off one of two', async () => {
      const admin = await adminSubject();
      expect((await me(admin.auth)).roles).toContain('admin');

      // Email is the only method: disableEmail is refused after the second factor. (All from the
      // admin's client: a passed second factor is remembered for the last client that gave it.)
      const agent = admin.agent;
      const before = t.mail.messages.length;
      expect((await secondFactorCall('/api/v1/users.2fa.disableEmail', admin, { agent })).status).toBe(400);
      const code = await t.mail.codeFor(ADMIN_EMAIL, { after: before });
      const lastEmail = await secondFactorCall('/api/v1/users.2fa.disableEmail', admin, { agent, code, method: 'email' });
      expect(lastEmail.status).toBe(400);
      expect(lastEmail.body).toEqual(POLICY_ERROR);
      expect((await me(admin.auth)).services).toEqual({ email2fa: { enabled: true }, totp: { enabled: false } });

      // Two methods: TOTP may go.
      let enrolled = await withTotp(admin);
      const offTotp = await secondFactorCall('/api/v1/users.2fa.disableTOTP', admin, {
        // The admin's own client: a passed second factor is remembered for the last client that gave it.
        agent: admin.agent,
        code: codeAt(enrolled.secret),
        method: 'totp',
      });
      expect(offTotp.status).toBe(200);
      expect((await me(admin.auth)).services).toEqual({ email2fa: { enabled: true }, totp: { enabled: false } });

      // Two methods again: email may go.
      enrolled = await withTotp(admin);
      const offEmail = await secondFactorCall('/api/v1/users.2fa.disableEmail', admin, {
        code: codeAt(enrolled.secret),
        method: 'totp',
      });
      expect(offEmail.status).toBe(200);
      expect((await me(admin.auth)).services).toEqual({ email2fa: { enabled: false }, totp: { enabled: true } });

      // TOTP is now the last one.
      nextStep();
      const lastTotp = await secondFactorCall('/api/v1/users.2fa.disableTOTP', admin, {
        code: codeAt(enrolled.secret),
        method: 'totp',
      });
      expect(lastTotp.status).toBe(400);
      expect(lastTotp.body).toEqual(POLICY_ERROR);
      expect((await me(admin.auth)).services).toEqual({ email2fa: { enabled: false }, totp: { enabled: true } });
      expect(await totpRow(admin.user.userId)).toMatchObject({ status: 'enabled' });
    });

    it('a user without such a role may switch off the last method', async () => {
      const subject = await loggedInUser();
      const agent = newAgent();
      const before = t.mail.messages.length;
      expect((await secondFactorCall('/api/v1/users.2fa.disableEmail', subject, { agent })).status).toBe(400);
      const code = await t.mail.codeFor(subject.user.email, { after: before });
      const disabled = await secondFactorCall('/api/v1/users.2fa.disableEmail', subject, { agent, code, method: 'email' });
      expect(disabled.status).toBe(200);
      expect((await me(subject.auth)).services).toEqual({ email2fa: { enabled: false }, totp: { enabled: false } });
    });
  });

  describe('secrets', () => {
    it('neither the secret nor any code appears in a log line, an error body, /me or the audit trail', async () => {
      const output: string[] = [];
      const originalStdout = process.stdout.write.bind(process.stdout);
      const originalStderr = process.stderr.write.bind(process.stderr);
      const capture =
        (original: typeof process.stdout.write) =>
        (chunk: unknown, ...rest: unknown[]): boolean => {
          output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
          return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
        };
      process.stdout.write = capture(originalStdout) as typeof process.stdout.write;
      process.stderr.write = capture(originalStderr) as typeof process.stderr.write;
      const bodies: unknown[] = [];
      let secret = '';
      let backupCodes: string[] = [];
      const usedCodes: string[] = [];
      try {
        const subject = await loggedInUser();
        const setup = await enableTotpRequest(subject.auth);
        secret = setup.body.secret;
        nextStep();
        const right = codeAt(secret);
        const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
        usedCodes.push(right, wrong);
        bodies.push((await validateTotpRequest(subject, wrong)).body);
        const validated = await validateTotpRequest(subject, right);
        backupCodes = validated.body.backupCodes;
        bodies.push((await validateTotpRequest(subject, right)).body); // already enabled
        bodies.push((await enableTotpRequest(subject.auth)).body); // already enabled
        bodies.push((await createToken(subject, { code: right, method: 'totp' })).body); // replay
        bodies.push((await createToken(subject, { code: 'ZZZZZZZZZZ', method: 'totp' })).body);
        bodies.push((await createToken(subject, { code: backupCodes[0]!, method: 'totp' })).body); // accepted
        bodies.push((await createToken(subject, { code: backupCodes[0]!, method: 'totp' })).body); // used up
        bodies.push((await login(subject.user, backupCodes[0]!)).body);
        bodies.push((await login(subject.user, 'not a code')).body);
        bodies.push(await me(subject.auth));
        bodies.push(await events(subject.auth));
      } finally {
        process.stdout.write = originalStdout;
        process.stderr.write = originalStderr;
      }
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(backupCodes).toHaveLength(10);
      // What the process wrote, and the application's own log (kept by the test app).
      const logs = output.join('') + t.logs.text();
      const answers = JSON.stringify(bodies);
      for (const value of [secret, ...backupCodes]) {
        expect(logs).not.toContain(value);
        expect(answers.toUpperCase()).not.toContain(value);
      }
      for (const code of usedCodes) expect(logs).not.toContain(code);
    });
  });
});
