import { randomBytes } from 'node:crypto';
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
import { totp } from './helpers/rfc6238.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * Login challenges (issue 3 items 1-3, seed 004): a login that needs a second factor answers 401
 * totp-required with details.challengeId; twoFactorChallenges.sendEmailCode mails more codes for
 * it, twoFactorChallenges.verifyChallenge finishes it. Real database, real mail.
 */
describe('surface 1: login challenges', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    // The route's own limit (5 per minute) is tested on an app of its own below.
    t = await createTestApp({ RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE: '100000' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  const CHALLENGE_ID = /^[0-9a-f]{64}$/;
  const SEND = '/api/v1/twoFactorChallenges.sendEmailCode';
  const VERIFY = '/api/v1/twoFactorChallenges.verifyChallenge';

  const v1Error = (errorType: string, message: string) => ({ success: false, error: `${message} [${errorType}]`, errorType });
  const NOT_FOUND = v1Error('error-challenge-not-found', 'challenge not found');
  const EXPIRED = v1Error('error-challenge-expired', 'challenge expired');
  const INVALID_METHOD = v1Error('error-invalid-challenge-method', 'invalid challenge method');
  const INVALID_CODE = v1Error('error-invalid-code', 'Invalid code');
  const MAX_ATTEMPTS = v1Error('totp-max-attempts', 'TOTP Maximum Attempts Reached');

  /** A 6-digit code that is certainly not `code`. */
  const wrongCode = (code: string): string => String((Number(code.replace('-', '')) + 1) % 1_000_000).padStart(6, '0');

  interface StartedLogin {
    challengeId: string;
    code: string;
    res: ApiResponse;
  }

  /** Password login of an email-2FA user: 401 totp-required with a challenge, and the mailed code. */
  async function startLogin(user: TestUser, headers: Record<string, string> = {}): Promise<StartedLogin> {
    const before = t.mail.messages.length;
    const res = await api.post('/api/v1/login', { user: user.username, password: user.password }, { headers });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      status: 'error',
      error: 'totp-required',
      message: 'TOTP Required',
      details: {
        method: 'email',
        codeGenerated: true,
        emailOrUsername: user.email,
        availableMethods: ['email'],
        challengeId: expect.stringMatching(CHALLENGE_ID),
      },
    });
    const code = await t.mail.codeFor(user.email, { after: before });
    return { challengeId: res.body.details.challengeId, code, res };
  }

  /** Asks for another code and returns it, read from the new mail. */
  async function resend(user: TestUser, challengeId: string): Promise<string> {
    const before = t.mail.messages.length;
    const res = await api.post(SEND, { challengeId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    return t.mail.codeFor(user.email, { after: before });
  }

  async function challengeRow(challengeId: string) {
    const [row] = await t.db.query(
      `SELECT user_id, purpose, method, failed_attempts, completed_at, expires_at, created_at, ip, user_agent FROM challenges WHERE id = $1`,
      [challengeId],
    );
    return row as
      | {
          user_id: string;
          purpose: string;
          method: string;
          failed_attempts: number;
          completed_at: Date | null;
          expires_at: Date;
          created_at: Date;
          ip: string;
          user_agent: string;
        }
      | undefined;
  }

  const mailsTo = (address: string) => t.mail.messages.filter((m) => m.to.includes(address)).length;

  describe('creation on login', () => {
    it('answers 401 totp-required with a 64-hex challengeId and the usual details, and stores the challenge', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user, { 'user-agent': 'challenge-agent/1.0' });
      expect(code).toMatch(/^\d{3}-\d{3}$/);

      const row = await challengeRow(challengeId);
      expect(row).toMatchObject({
        user_id: user.userId,
        purpose: 'login',
        method: 'email',
        failed_attempts: 0,
        completed_at: null,
        ip: '127.0.0.1',
        user_agent: 'challenge-agent/1.0',
      });
      // Valid CHALLENGE_TTL_SECONDS (600) from creation.
      expect(row!.expires_at.getTime() - row!.created_at.getTime()).toBe(600_000);
    });

    it('each login attempt gets a challenge of its own; a login with the right code creates none', async () => {
      const user = await registerVerifiedUser(api, t);
      const first = await startLogin(user);
      const again = await api.post('/api/v1/login', { user: user.username, password: user.password });
      expect(again.status).toBe(401);
      // Within the resend window no new code goes out; the challenge is new all the same.
      expect(again.body.details).toEqual({
        method: 'email',
        codeGenerated: false,
        codeCount: 1,
        codeExpires: expect.any(String),
        emailOrUsername: user.email,
        availableMethods: ['email'],
        challengeId: expect.stringMatching(CHALLENGE_ID),
      });
      expect(again.body.details.challengeId).not.toBe(first.challengeId);

      const done = await api.post('/api/v1/login', { user: user.username, password: user.password, code: first.code });
      expect(done.status).toBe(200);
      const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM challenges WHERE user_id = $1`, [user.userId]);
      expect(count).toBe(2);
    });

    it('wrong credentials and users without a second factor get no challenge', async () => {
      const user = await registerVerifiedUser(api, t);
      const wrong = await api.post('/api/v1/login', { user: user.username, password: 'not the password' });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ status: 'error', error: 'Unauthorized', message: 'Unauthorized' });

      const username = uniqueName('plain');
      const registered = await api.post('/api/v1/users.register', {
        username,
        email: `${username}@example.com`,
        pass: 'correct horse battery',
        name: 'Plain',
      });
      expect(registered.status).toBe(200);
      const plain = await api.post('/api/v1/login', { user: username, password: 'correct horse battery' });
      expect(plain.status).toBe(200);

      const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM challenges WHERE user_id IN ($1, $2)`, [
        user.userId,
        registered.body.user._id,
      ]);
      expect(count).toBe(0);
    });
  });

  describe('twoFactorChallenges.verifyChallenge', () => {
    it('answers {success, userId, loginToken}; the token works and is 2FA-remembered for the verifying client only', async () => {
      const user = await registerVerifiedUser(api, t);
      const client = { 'user-agent': 'verifying-client/1.0' };
      const { challengeId, code } = await startLogin(user, client);

      const res = await api.post(VERIFY, { challengeId, code }, { headers: client });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true, userId: user.userId, loginToken: expect.stringMatching(/^\S{32,}$/) });
      expect((await challengeRow(challengeId))!.completed_at).toBeInstanceOf(Date);

      const auth: Credentials = { userId: user.userId, authToken: res.body.loginToken };
      const me = await api.get('/api/v1/me', { auth, headers: client });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ _id: user.userId, username: user.username, success: true });

      // A rememberable @Requires2FA route passes without a code for the same client...
      const mailsBefore = mailsTo(user.email);
      const token = await api.post(
        '/api/v1/users.generatePersonalAccessToken',
        { tokenName: 'remembered' },
        { auth, headers: client },
      );
      expect(token.status).toBe(200);
      expect(token.body).toEqual({ success: true, token: expect.any(String) });
      expect(mailsTo(user.email)).toBe(mailsBefore);

      // ...but not for another user agent.
      const other = await api.post(
        '/api/v1/users.generatePersonalAccessToken',
        { tokenName: 'elsewhere' },
        { auth, headers: { 'user-agent': 'another-client/2.0' } },
      );
      expect(other.status).toBe(400);
      expect(other.body).toMatchObject({ success: false, errorType: 'totp-required', details: { method: 'email' } });
    });

    it('accepts the code with or without the dash', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      const res = await api.post(VERIFY, { challengeId, code: code.replace('-', '') });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, userId: user.userId });
    });

    it('uses nothing up when the session cannot be written: the same code finishes the same challenge once it can', async () => {
      const user = await registerVerifiedUser(api, t);
      const failing = { 'user-agent': 'session-write-fails/1.0' };
      const { challengeId, code } = await startLogin(user, failing);
      // The session insert of this one client fails, as a full disk or a dropped connection would.
      await t.db.query(`
        CREATE FUNCTION test_refuse_session() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.user_agent = 'session-write-fails/1.0' THEN RAISE EXCEPTION 'session write refused by the test'; END IF;
          RETURN NEW;
        END $$`);
      await t.db.query(
        `CREATE TRIGGER test_refuse_session BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION test_refuse_session()`,
      );
      try {
        const failed = await api.post(VERIFY, { challengeId, code }, { headers: failing });
        expect(failed.status).toBe(500);
        expect(JSON.stringify(failed.body)).not.toContain(code.replace('-', ''));
      } finally {
        await t.db.query(`DROP TRIGGER test_refuse_session ON sessions`);
        await t.db.query(`DROP FUNCTION test_refuse_session()`);
      }
      expect((await challengeRow(challengeId))!.completed_at).toBeNull();
      const [codeRow] = (await t.db.query(`SELECT consumed_at FROM email_codes WHERE user_id = $1 ORDER BY id DESC LIMIT 1`, [
        user.userId,
      ])) as Array<{ consumed_at: Date | null }>;
      expect(codeRow).toEqual({ consumed_at: null });

      const res = await api.post(VERIFY, { challengeId, code });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true, userId: user.userId, loginToken: expect.stringMatching(/^\S{32,}$/) });
    });

    it('a completed challenge cannot be used again (error-challenge-not-found on both endpoints)', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      const extra = await resend(user, challengeId);
      expect((await api.post(VERIFY, { challengeId, code })).status).toBe(200);

      for (const attempt of [code, extra]) {
        const again = await api.post(VERIFY, { challengeId, code: attempt });
        expect(again.status).toBe(400);
        expect(again.body).toEqual(NOT_FOUND);
      }
      const mailsBefore = mailsTo(user.email);
      const send = await api.post(SEND, { challengeId });
      expect(send.status).toBe(400);
      expect(send.body).toEqual(NOT_FOUND);
      expect(mailsTo(user.email)).toBe(mailsBefore);
    });

    it('a wrong code answers error-invalid-code and counts on the challenge', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      for (let attempt = 1; attempt <= 2; attempt++) {
        const res = await api.post(VERIFY, { challengeId, code: wrongCode(code) });
        expect(res.status).toBe(400);
        expect(res.body).toEqual(INVALID_CODE);
        expect((await challengeRow(challengeId))!.failed_attempts).toBe(attempt);
      }
      // Not a code at all: counted the same way.
      const garbage = await api.post(VERIFY, { challengeId, code: 'not-a-code' });
      expect(garbage.body).toEqual(INVALID_CODE);
      expect((await challengeRow(challengeId))!.failed_attempts).toBe(3);

      const ok = await api.post(VERIFY, { challengeId, code });
      expect(ok.status).toBe(200);
    });

    it(`after ${5} wrong codes the challenge is deleted and the answer is totp-max-attempts`, async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      for (let attempt = 1; attempt <= 4; attempt++) {
        const res = await api.post(VERIFY, { challengeId, code: wrongCode(code) });
        expect(res.status).toBe(400);
        expect(res.body).toEqual(INVALID_CODE);
      }
      const last = await api.post(VERIFY, { challengeId, code: wrongCode(code) });
      expect(last.status).toBe(400);
      expect(last.body).toEqual(MAX_ATTEMPTS);
      expect(await challengeRow(challengeId)).toBeUndefined();

      // Gone: even the right code no longer helps, and no more codes can be asked for it.
      expect((await api.post(VERIFY, { challengeId, code })).body).toEqual(NOT_FOUND);
      expect((await api.post(SEND, { challengeId })).body).toEqual(NOT_FOUND);
      // The outstanding email codes died with it (EMAIL_CODE_MAX_ATTEMPTS per user and purpose).
      const login = await api.post('/api/v1/login', { user: user.username, password: user.password, code });
      expect(login.status).toBe(401);
      expect(login.body).toMatchObject({ status: 'error', error: 'totp-invalid' });
    });

    it('a resend does not reset the attempt count', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      for (let attempt = 1; attempt <= 3; attempt++) {
        expect((await api.post(VERIFY, { challengeId, code: wrongCode(code) })).body).toEqual(INVALID_CODE);
      }
      const fresh = await resend(user, challengeId);
      expect((await challengeRow(challengeId))!.failed_attempts).toBe(3);

      const wrong = [wrongCode(code), wrongCode(fresh)].find(
        (candidate) => candidate !== code.replace('-', '') && candidate !== fresh.replace('-', ''),
      )!;
      expect((await api.post(VERIFY, { challengeId, code: wrong })).body).toEqual(INVALID_CODE);
      expect((await api.post(VERIFY, { challengeId, code: wrong })).body).toEqual(MAX_ATTEMPTS);
      expect(await challengeRow(challengeId)).toBeUndefined();
      expect((await api.post(VERIFY, { challengeId, code: fresh })).body).toEqual(NOT_FOUND);
    });

    it('two parallel requests with the same code: exactly one succeeds', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      const results = await Promise.all([api.post(VERIFY, { challengeId, code }), api.post(VERIFY, { challengeId, code })]);
      const statuses = results.map((res) => res.status).sort();
      expect(statuses).toEqual([200, 400]);
      const loser = results.find((res) => res.status === 400)!;
      expect([INVALID_CODE, NOT_FOUND]).toContainEqual(loser.body);
      const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM sessions WHERE user_id = $1 AND kind = 'login'`, [
        user.userId,
      ]);
      expect(count).toBe(1);
    });

    it('two parallel requests with two different valid codes: the challenge completes once', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      const other = await resend(user, challengeId);
      const results = await Promise.all([
        api.post(VERIFY, { challengeId, code }),
        api.post(VERIFY, { challengeId, code: other }),
      ]);
      expect(results.map((res) => res.status).sort()).toEqual([200, 400]);
      expect(results.find((res) => res.status === 400)!.body).toEqual(NOT_FOUND);
      const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM sessions WHERE user_id = $1 AND kind = 'login'`, [
        user.userId,
      ]);
      expect(count).toBe(1);
    });

    it('a totp challenge takes the authenticator code (RFC 6238) or a backup code, each once, and not an emailed code', async () => {
      const user = await registerVerifiedUser(api, t);
      const auth = await loginWithEmailCode(api, t, user);
      /** Into the next 30-second step: an accepted step is refused afterwards (replay). */
      const nextStep = () => t.clock.advance(30 - ((t.clock.now().getTime() / 1000) % 30) + 1);
      const setup = await api.post('/api/v1/users.2fa.enableTOTP', undefined, { auth });
      expect(setup.status).toBe(200);
      const validated = await api.post(
        '/api/v1/users.2fa.validateTOTP',
        { code: totp(setup.body.secret, t.clock.now()) },
        { auth },
      );
      expect(validated.status).toBe(200);
      const backupCodes: string[] = validated.body.backupCodes;
      nextStep();

      const startTotpLogin = async (): Promise<string> => {
        const res = await api.post('/api/v1/login', { user: user.username, password: user.password });
        expect(res.status).toBe(401);
        expect(res.body.details).toEqual({
          method: 'totp',
          codeGenerated: false,
          emailOrUsername: user.email,
          availableMethods: ['totp', 'email'],
          challengeId: expect.stringMatching(CHALLENGE_ID),
        });
        return res.body.details.challengeId;
      };

      // An emailed code is not what a totp challenge asks for.
      const first = await startTotpLogin();
      const before = t.mail.messages.length;
      expect((await api.post('/api/v1/users.2fa.sendEmailCode', { emailOrUsername: user.username })).status).toBe(200);
      const emailed = await t.mail.codeFor(user.email, { after: before });
      expect((await api.post(VERIFY, { challengeId: first, code: emailed })).body).toEqual(INVALID_CODE);

      const code = totp(setup.body.secret, t.clock.now());
      const ok = await api.post(VERIFY, { challengeId: first, code });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ success: true, userId: user.userId, loginToken: expect.any(String) });
      // The same step again, on a new challenge: refused.
      const second = await startTotpLogin();
      expect((await api.post(VERIFY, { challengeId: second, code })).body).toEqual(INVALID_CODE);

      const backup = await api.post(VERIFY, { challengeId: second, code: backupCodes[0] });
      expect(backup.status).toBe(200);
      const third = await startTotpLogin();
      expect((await api.post(VERIFY, { challengeId: third, code: backupCodes[0] })).body).toEqual(INVALID_CODE);
      expect((await api.post(VERIFY, { challengeId: third, code: backupCodes[1] })).status).toBe(200);
    });

    it('parallel wrong guesses cannot exceed the 5 attempts of the challenge', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      const guesses = Array.from({ length: 10 }, (_, i) =>
        String((Number(code.replace('-', '')) + 1 + i) % 1_000_000).padStart(6, '0'),
      );
      const results = await Promise.all(guesses.map((guess) => api.post(VERIFY, { challengeId, code: guess })));
      expect(results.every((res) => res.status === 400)).toBe(true);
      const bodies = results.map((res) => res.body);
      // Five are checked. The fifth wrong one by the challenge's count, or by the user's count (the two
      // may order the parallel attempts differently), answers totp-max-attempts: 3 or 4 are plain wrong.
      const invalid = bodies.filter((body) => body.errorType === 'error-invalid-code').length;
      expect(invalid).toBeGreaterThanOrEqual(3);
      expect(invalid).toBeLessThanOrEqual(4);
      for (const body of bodies) expect([INVALID_CODE, MAX_ATTEMPTS, NOT_FOUND]).toContainEqual(body);
      expect(await challengeRow(challengeId)).toBeUndefined();
      // Only 5 of the 10 codes were checked at all.
      const [{ consecutive_failures }] = await t.db.query(
        `SELECT consecutive_failures FROM second_factor_failures WHERE user_id = $1`,
        [user.userId],
      );
      expect(consecutive_failures).toBe(5);
    });

    it('the account lockout applies: a locked verify ends the challenge, and no codes are mailed until the lock ends', async () => {
      const user = await registerVerifiedUser(api, t);
      const a = await startLogin(user);
      const b = (await api.post('/api/v1/login', { user: user.username, password: user.password })).body.details
        .challengeId as string;
      const c = (await api.post('/api/v1/login', { user: user.username, password: user.password })).body.details
        .challengeId as string;
      const d = (await api.post('/api/v1/login', { user: user.username, password: user.password })).body.details
        .challengeId as string;
      expect([b, c, d]).toEqual(Array(3).fill(expect.stringMatching(CHALLENGE_ID)));
      // 5 wrong codes on each of two challenges: 10 consecutive failures lock the account (LOCKOUT_THRESHOLD).
      for (const challengeId of [a.challengeId, b]) {
        for (let attempt = 1; attempt <= 5; attempt++) {
          const res = await api.post(VERIFY, { challengeId, code: wrongCode(a.code) });
          expect(res.body).toEqual(attempt < 5 ? INVALID_CODE : MAX_ATTEMPTS);
        }
      }
      const events = await t.db.query(
        `SELECT type, method, outcome FROM audit_events WHERE user_id = $1 AND type IN ('lockout', 'challenge_failed') ORDER BY at, id`,
        [user.userId],
      );
      const failed = { type: 'challenge_failed', method: 'email', outcome: 'failure' };
      // The 10th failure locks the account: its lockout event comes just before its challenge_failed.
      expect(events).toEqual([
        ...Array.from({ length: 9 }, () => failed),
        { type: 'lockout', method: 'email', outcome: 'failure' },
        failed,
      ]);
      const locked = await api.post(VERIFY, { challengeId: c, code: a.code });
      expect(locked.status).toBe(400);
      expect(locked.body).toEqual({
        success: false,
        error: 'Too many failed attempts; try again later [totp-max-attempts]',
        errorType: 'totp-max-attempts',
        details: { lockedUntil: expect.any(String) },
      });
      // totp-max-attempts on a challenge means it is gone (API.md), whatever the reason.
      expect(await challengeRow(c)).toBeUndefined();
      expect((await api.post(VERIFY, { challengeId: c, code: a.code })).body.errorType).toBe('error-challenge-not-found');
      const mailsBefore = mailsTo(user.email);
      const send = await api.post(SEND, { challengeId: d });
      expect(send.status).toBe(400);
      expect(send.body).toMatchObject({
        errorType: 'totp-max-attempts',
        details: { lockedUntil: locked.body.details.lockedUntil },
      });
      expect(mailsTo(user.email)).toBe(mailsBefore);

      // The first lock lasts LOCKOUT_BASE_SECONDS (30 s).
      t.clock.advance(31);
      const code = await resend(user, d);
      const ok = await api.post(VERIFY, { challengeId: d, code });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ success: true, userId: user.userId });
    });
  });

  describe('twoFactorChallenges.sendEmailCode', () => {
    it('mails a fresh code at once; both codes are accepted, each once', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code: first } = await startLogin(user);
      const mailsBefore = mailsTo(user.email);
      const second = await resend(user, challengeId);
      expect(mailsTo(user.email)).toBe(mailsBefore + 1);
      const [{ count }] = await t.db.query(
        `SELECT count(*)::int AS count FROM email_codes WHERE user_id = $1 AND consumed_at IS NULL`,
        [user.userId],
      );
      expect(count).toBe(2);

      // The resent code finishes the challenge; the first one still completes the older login path.
      expect((await api.post(VERIFY, { challengeId, code: second })).status).toBe(200);
      const login = await api.post('/api/v1/login', { user: user.username, password: user.password, code: first });
      expect(login.status).toBe(200);
      for (const used of [first, second]) {
        const again = await api.post('/api/v1/login', { user: user.username, password: user.password, code: used });
        expect(again.status).toBe(401);
        expect(again.body).toMatchObject({ status: 'error', error: 'totp-invalid' });
      }
    });

    it('keeps at most EMAIL_CODE_MAX_OUTSTANDING (3) codes valid: a resend retires the oldest', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code: oldest } = await startLogin(user);
      const codes = [oldest];
      for (let i = 0; i < 3; i++) codes.push(await resend(user, challengeId));
      const [{ count }] = await t.db.query(
        `SELECT count(*)::int AS count FROM email_codes WHERE user_id = $1 AND consumed_at IS NULL`,
        [user.userId],
      );
      expect(count).toBe(3);
      // The oldest was retired (unless a newer one happens to carry the same digits).
      if (!codes.slice(1).includes(oldest)) {
        expect((await api.post(VERIFY, { challengeId, code: oldest })).body).toEqual(INVALID_CODE);
      }
      expect((await api.post(VERIFY, { challengeId, code: codes[3] })).status).toBe(200);
    });

    it('a challenge whose method is not email answers error-invalid-challenge-method and mails nothing', async () => {
      const user = await registerVerifiedUser(api, t);
      // TOTP switched on directly in the database: only the method matters here, not the secret.
      await t.db.query(
        `INSERT INTO two_factor_methods (user_id, method, status, secret_encrypted, changed_at) VALUES ($1, 'totp', 'enabled', NULL, now())`,
        [user.userId],
      );
      const mailsBefore = mailsTo(user.email);
      const login = await api.post('/api/v1/login', { user: user.username, password: user.password });
      expect(login.status).toBe(401);
      expect(login.body).toEqual({
        status: 'error',
        error: 'totp-required',
        message: 'TOTP Required',
        details: {
          method: 'totp',
          codeGenerated: false,
          emailOrUsername: user.email,
          availableMethods: ['totp', 'email'],
          challengeId: expect.stringMatching(CHALLENGE_ID),
        },
      });
      const { challengeId } = login.body.details;
      expect((await challengeRow(challengeId))!.method).toBe('totp');

      const send = await api.post(SEND, { challengeId });
      expect(send.status).toBe(400);
      expect(send.body).toEqual(INVALID_METHOD);
      expect(mailsTo(user.email)).toBe(mailsBefore);
    });

    it('an email challenge whose user has switched email 2FA off since answers error-invalid-challenge-method', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId } = await startLogin(user);
      await t.db.query(`DELETE FROM two_factor_methods WHERE user_id = $1`, [user.userId]);
      const send = await api.post(SEND, { challengeId });
      expect(send.status).toBe(400);
      expect(send.body).toEqual(INVALID_METHOD);
    });
  });

  describe('both endpoints', () => {
    it('an expired challenge answers error-challenge-expired (CHALLENGE_TTL_SECONDS = 600)', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId } = await startLogin(user);
      t.clock.advance(590);
      // Still open just before: a code sent now is fine.
      const code = await resend(user, challengeId);
      t.clock.advance(11);
      const send = await api.post(SEND, { challengeId });
      expect(send.status).toBe(400);
      expect(send.body).toEqual(EXPIRED);
      const verify = await api.post(VERIFY, { challengeId, code });
      expect(verify.status).toBe(400);
      expect(verify.body).toEqual(EXPIRED);
      // The code itself is still valid (its own 600 s run from the resend) and the older path takes it.
      const login = await api.post('/api/v1/login', { user: user.username, password: user.password, code });
      expect(login.status).toBe(200);
    });

    it('an unknown challenge answers error-challenge-not-found', async () => {
      for (const challengeId of [randomBytes(32).toString('hex'), 'not-a-challenge', 'A'.repeat(64)]) {
        const send = await api.post(SEND, { challengeId });
        expect(send.status).toBe(400);
        expect(send.body).toEqual(NOT_FOUND);
        const verify = await api.post(VERIFY, { challengeId, code: '123456' });
        expect(verify.status).toBe(400);
        expect(verify.body).toEqual(NOT_FOUND);
      }
    });

    it('a missing challengeId answers error-parameter-required', async () => {
      const required = v1Error('error-parameter-required', 'challengeId is required');
      for (const body of [{}, { challengeId: '' }, { challengeId: null }]) {
        const send = await api.post(SEND, body);
        expect(send.status).toBe(400);
        expect(send.body).toEqual(required);
        const verify = await api.post(VERIFY, { ...body, code: '123456' });
        expect(verify.status).toBe(400);
        expect(verify.body).toEqual(required);
      }
      // An empty JSON body is a request without parameters.
      const empty = await api.post(SEND, undefined, { rawBody: '', headers: { 'content-type': 'application/json' } });
      expect(empty.status).toBe(400);
      expect(empty.body).toEqual(required);

      const noCode = await api.post(VERIFY, { challengeId: randomBytes(32).toString('hex') });
      expect(noCode.status).toBe(400);
      expect(noCode.body).toEqual(v1Error('error-parameter-required', 'code is required'));
    });

    it('wrong types answer 400 invalid-params (unknown fields are ignored, as by Rocket.Chat)', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      const mailsBefore = mailsTo(user.email);
      const cases: Array<[string, unknown]> = [
        [SEND, { challengeId: 42 }],
        [SEND, { challengeId: [challengeId] }],
        [VERIFY, { challengeId, code: 123456 }],
        [VERIFY, { challengeId: { $ne: null }, code }],
      ];
      for (const [path, body] of cases) {
        const res = await api.post(path, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toEqual({
          success: false,
          error: expect.stringMatching(/ \[invalid-params\]$/),
          errorType: 'invalid-params',
        });
      }
      // Nothing happened: no mail, no attempt counted, and the code still finishes the challenge.
      expect(mailsTo(user.email)).toBe(mailsBefore);
      expect((await challengeRow(challengeId))!.failed_attempts).toBe(0);
      // An unknown field never reaches the code: `userId` does not pick whose login this is.
      const done = await api.post(VERIFY, { challengeId, code, userId: 'someoneElse12345' });
      expect(done.status).toBe(200);
      expect(done.body.userId).toBe(user.userId);
    });
  });

  describe('the older way keeps working', () => {
    it('login with `code` in the body, after a challenge was created', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      const res = await api.post('/api/v1/login', { user: user.username, password: user.password, code });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'success', data: { userId: user.userId, authToken: expect.any(String) } });
      // The code is used up: the challenge stays open but this code no longer finishes it.
      expect((await api.post(VERIFY, { challengeId, code })).body).toEqual(INVALID_CODE);
    });

    it('login with the code in x-2fa-code', async () => {
      const user = await registerVerifiedUser(api, t);
      const { code } = await startLogin(user);
      const res = await api.post(
        '/api/v1/login',
        { user: user.username, password: user.password },
        { headers: { 'x-2fa-code': code, 'x-2fa-method': 'email' } },
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'success', data: { userId: user.userId } });
    });

    it('a code resent for a challenge completes login with `code`', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId } = await startLogin(user);
      const code = await resend(user, challengeId);
      const res = await api.post('/api/v1/login', { user: user.username, password: user.password, code });
      expect(res.status).toBe(200);
    });
  });

  describe('audit trail', () => {
    it('records challenge_created, challenge_failed and challenge_completed with method and client, newest first, paginated', async () => {
      const user = await registerVerifiedUser(api, t);
      const client = { 'user-agent': 'audited-client/3.1' };
      const { challengeId, code } = await startLogin(user, client);
      expect((await api.post(VERIFY, { challengeId, code: wrongCode(code) }, { headers: client })).status).toBe(400);
      const fresh = await resend(user, challengeId);
      const ok = await api.post(VERIFY, { challengeId, code: fresh }, { headers: client });
      expect(ok.status).toBe(200);
      const auth: Credentials = { userId: user.userId, authToken: ok.body.loginToken };

      const res = await api.get('/api/v1/users.2fa.events', { auth, headers: client });
      expect(res.status).toBe(200);
      const event = (type: string, outcome: string, userAgent: string) =>
        expect.objectContaining({ type, method: 'email', outcome, ip: '127.0.0.1', userAgent });
      const newestFirst = [
        event('challenge_completed', 'success', 'audited-client/3.1'),
        event('code_sent', 'success', 'tfa-tests/1.0'),
        event('challenge_failed', 'failure', 'audited-client/3.1'),
        event('challenge_created', 'success', 'audited-client/3.1'),
        event('code_sent', 'success', 'audited-client/3.1'),
      ];
      expect(res.body).toMatchObject({ success: true, offset: 0 });
      expect(res.body.events.slice(0, 5)).toEqual(newestFirst);
      const total = res.body.total as number;
      expect(total).toBeGreaterThanOrEqual(5);
      expect(res.body.count).toBe(res.body.events.length);
      const times = (res.body.events as Array<{ ts: string }>).map((e) => Date.parse(e.ts));
      expect([...times].sort((x, y) => y - x)).toEqual(times);

      const page = await api.get('/api/v1/users.2fa.events?count=2&offset=1', { auth, headers: client });
      expect(page.status).toBe(200);
      expect(page.body).toEqual({ success: true, events: newestFirst.slice(1, 3), count: 2, offset: 1, total });
    });

    it('each wrong code up to max attempts is a challenge_failed event', async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      for (let attempt = 1; attempt <= 5; attempt++) await api.post(VERIFY, { challengeId, code: wrongCode(code) });
      const [{ failed }] = await t.db.query(
        `SELECT count(*)::int AS failed FROM audit_events WHERE user_id = $1 AND type = 'challenge_failed' AND method = 'email' AND outcome = 'failure'`,
        [user.userId],
      );
      expect(failed).toBe(5);
    });
  });
});

describe('surface 1: twoFactorChallenges.sendEmailCode rate limit (default limits)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    // The production defaults: 10 per minute on unauthenticated routes, 5 on this one.
    t = await createTestApp({ RATE_LIMIT_PER_MINUTE: '10' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('the 6th request from one caller within a minute answers 429 with the Rocket.Chat body', async () => {
    const user = await registerVerifiedUser(api, t);
    const before = t.mail.messages.length;
    const login = await api.post('/api/v1/login', { user: user.username, password: user.password });
    expect(login.status).toBe(401);
    const { challengeId } = login.body.details;
    await t.mail.codeFor(user.email, { after: before });

    for (let i = 1; i <= 5; i++) {
      const res = await api.post('/api/v1/twoFactorChallenges.sendEmailCode', { challengeId });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      expect(res.headers.get('x-ratelimit-limit')).toBe('5');
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(5 - i));
    }
    await t.mailSettled();
    const mailsBefore = t.mail.messages.length;
    const limited = await api.post('/api/v1/twoFactorChallenges.sendEmailCode', { challengeId });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      success: false,
      error: expect.stringMatching(
        /^Error, too many requests\. Please slow down\. You must wait \d+ seconds before trying this endpoint again\. \[error-too-many-requests\]$/,
      ),
    });
    expect(limited.headers.get('x-ratelimit-limit')).toBe('5');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    // Whatever the body: the caller is limited, not the challenge.
    const other = await api.post('/api/v1/twoFactorChallenges.sendEmailCode', { challengeId: randomBytes(32).toString('hex') });
    expect(other.status).toBe(429);
    expect(t.mail.messages.length).toBe(mailsBefore);

    // Other routes keep the general limit.
    const verify = await api.post('/api/v1/twoFactorChallenges.verifyChallenge', { challengeId, code: '000000' });
    expect(verify.headers.get('x-ratelimit-limit')).toBe('10');
  });
});
