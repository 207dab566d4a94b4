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
import { DELETE_ACCOUNT_ROUTE, DISABLE_EMAIL_ROUTE, PAT_ROUTE } from './helpers/routes.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * Surface 1's 2FA handshake on @Requires2FA routes (API.md "The 2FA handshake"): asking for a
 * code, answering with it, resends, the remember window, single use under concurrency, and the
 * format of every answer. Attempt limits, lockout, password fallback and personal access tokens
 * are in two-factor-security.e2e-spec.ts.
 */

describe('2FA handshake on @Requires2FA routes (surface 1)', () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await createTestApp();
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  interface Subject {
    user: TestUser;
    auth: Credentials;
  }

  let agentSequence = 0;
  /** A user agent no other request used: the remember window is bound to user agent + address. */
  const newAgent = (): string => `tfa-handshake-tests/${++agentSequence}`;

  /** A verified user logged in from a user agent of its own, so no route request is remembered by the login. */
  async function loggedInUser(): Promise<Subject> {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user, { 'user-agent': newAgent() });
    return { user, auth };
  }

  interface CallOptions {
    agent: string;
    code?: string;
    method?: string;
  }

  function call(route: string, subject: Subject, options: CallOptions, body?: unknown): Promise<ApiResponse> {
    const headers: Record<string, string> = { 'user-agent': options.agent };
    if (options.code !== undefined) headers['x-2fa-code'] = options.code;
    if (options.method !== undefined) headers['x-2fa-method'] = options.method;
    return api.post(route, body, { auth: subject.auth, headers });
  }

  /** The rememberable route; a fresh token name each time, so it can succeed again and again. */
  const createToken = (subject: Subject, options: CallOptions) =>
    call(PAT_ROUTE, subject, options, { tokenName: uniqueName('token') });

  const totpRequired = (email: string) => ({
    success: false,
    error: 'TOTP Required [totp-required]',
    errorType: 'totp-required',
    details: { method: 'email', codeGenerated: true, emailOrUsername: email, availableMethods: ['email'] },
  });

  const totpInvalid = (email: string) => ({
    success: false,
    error: 'TOTP Invalid [totp-invalid]',
    errorType: 'totp-invalid',
    details: { method: 'email', codeGenerated: false, emailOrUsername: email, availableMethods: ['email'] },
  });

  const tokenCreated = { success: true, token: expect.stringMatching(/^\S{20,}$/) };

  /** Asks without a code and reads the fresh code out of the delivered mail. */
  async function requestCode(subject: Subject, agent = newAgent()): Promise<{ response: ApiResponse; code: string }> {
    const before = t.mail.messages.length;
    const response = await createToken(subject, { agent });
    expect(response.status).toBe(400);
    expect(response.body).toEqual(totpRequired(subject.user.email));
    const code = await t.mail.codeFor(subject.user.email, { after: before });
    return { response, code };
  }

  /** A well-formed code that is not `code`. */
  const otherCode = (code: string): string => String((Number(code.replace('-', '')) + 1) % 1_000_000).padStart(6, '0');

  const countPersonalTokens = async (userId: string): Promise<number> => {
    const [row] = await t.db.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND kind = 'personal'`, [userId]);
    return row.n as number;
  };

  it('without x-2fa-code answers 400 totp-required with the documented details and mails a code', async () => {
    const subject = await loggedInUser();
    const agent = newAgent();
    const before = t.mail.messages.length;
    const codeMailsBefore = t.mail.codeMailCount(subject.user.email);

    const response = await createToken(subject, { agent });

    expect(response.status).toBe(400);
    expect(response.body).toEqual(totpRequired(subject.user.email));
    expect(t.mail.codeMailCount(subject.user.email)).toBe(codeMailsBefore + 1);
    // The mailed code is the one the route wants.
    const code = await t.mail.codeFor(subject.user.email, { after: before });
    const answered = await createToken(subject, { agent, code, method: 'email' });
    expect(answered.status).toBe(200);
    expect(answered.body).toEqual(tokenCreated);
  });

  it('asking again within EMAIL_CODE_RESEND_AFTER_SECONDS mails nothing and says when the code expires', async () => {
    const subject = await loggedInUser();
    await requestCode(subject);
    const mailed = t.mail.codeMailCount(subject.user.email);

    const again = await createToken(subject, { agent: newAgent() });

    expect(again.status).toBe(400);
    expect(again.body).toEqual({
      success: false,
      error: 'TOTP Required [totp-required]',
      errorType: 'totp-required',
      details: {
        method: 'email',
        codeGenerated: false,
        codeCount: 1,
        codeExpires: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        emailOrUsername: subject.user.email,
        availableMethods: ['email'],
      },
    });
    const expiresInMs = Date.parse(again.body.details.codeExpires) - t.clock.now().getTime();
    expect(expiresInMs).toBeGreaterThan((t.config.EMAIL_CODE_TTL_SECONDS - 30) * 1000);
    expect(expiresInMs).toBeLessThanOrEqual(t.config.EMAIL_CODE_TTL_SECONDS * 1000);
    expect(t.mail.codeMailCount(subject.user.email)).toBe(mailed);
  });

  it('after the resend window a new code is mailed and the earlier one still works too', async () => {
    const subject = await loggedInUser();
    const { code: first } = await requestCode(subject);
    t.clock.advance(t.config.EMAIL_CODE_RESEND_AFTER_SECONDS + 1);
    const { code: second } = await requestCode(subject);
    expect(second).not.toBe(first);

    // Different user agents, so the first success is not remembered for the second request.
    const withFirst = await createToken(subject, { agent: newAgent(), code: first, method: 'email' });
    expect(withFirst.status).toBe(200);
    const withSecond = await createToken(subject, { agent: newAgent(), code: second, method: 'email' });
    expect(withSecond.status).toBe(200);
    expect(withSecond.body).toEqual(tokenCreated);
  });

  it(`keeps at most EMAIL_CODE_MAX_OUTSTANDING (3) codes: a 4th kills the oldest`, async () => {
    expect(t.config.EMAIL_CODE_MAX_OUTSTANDING).toBe(3);
    const subject = await loggedInUser();
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      if (i > 0) t.clock.advance(t.config.EMAIL_CODE_RESEND_AFTER_SECONDS + 1);
      codes.push((await requestCode(subject)).code);
    }
    expect(new Set(codes).size).toBe(4);

    const oldest = await createToken(subject, { agent: newAgent(), code: codes[0]!, method: 'email' });
    expect(oldest.status).toBe(400);
    expect(oldest.body).toEqual(totpInvalid(subject.user.email));
    for (const code of codes.slice(1)) {
      const response = await createToken(subject, { agent: newAgent(), code, method: 'email' });
      expect(response.status).toBe(200);
    }
  });

  it('accepts the emailed code as 123456 and as 123-456', async () => {
    const subject = await loggedInUser();
    const { code: first } = await requestCode(subject);
    expect(first).toMatch(/^\d{3}-\d{3}$/);
    const plain = await createToken(subject, { agent: newAgent(), code: first.replace('-', ''), method: 'email' });
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual(tokenCreated);

    // The first code is used up, so a new one goes out at once.
    const { code: second } = await requestCode(subject);
    const dashed = await createToken(subject, { agent: newAgent(), code: second, method: 'email' });
    expect(dashed.status).toBe(200);
    expect(dashed.body).toEqual(tokenCreated);
    expect(await countPersonalTokens(subject.user.userId)).toBe(2);
  });

  it('a wrong code answers 400 totp-invalid with the same details', async () => {
    const subject = await loggedInUser();
    const { code } = await requestCode(subject);

    const wrong = await createToken(subject, { agent: newAgent(), code: otherCode(code), method: 'email' });

    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual(totpInvalid(subject.user.email));
    expect(await countPersonalTokens(subject.user.userId)).toBe(0);
    // Garbage is refused the same way.
    const garbage = await createToken(subject, { agent: newAgent(), code: 'abc-def', method: 'email' });
    expect(garbage.status).toBe(400);
    expect(garbage.body).toEqual(totpInvalid(subject.user.email));
    // The right code still works afterwards.
    const right = await createToken(subject, { agent: newAgent(), code, method: 'email' });
    expect(right.status).toBe(200);
  });

  it('a used code is not accepted a second time', async () => {
    const subject = await loggedInUser();
    const { code } = await requestCode(subject);
    const first = await createToken(subject, { agent: newAgent(), code, method: 'email' });
    expect(first.status).toBe(200);

    const replay = await createToken(subject, { agent: newAgent(), code, method: 'email' });
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual(totpInvalid(subject.user.email));
  });

  it('remembers a right code for the same session and user agent, on rememberable routes, for REMEMBER_2FA_SECONDS', async () => {
    const subject = await loggedInUser();
    const agent = newAgent();
    const before = t.mail.messages.length;
    const asked = await createToken(subject, { agent });
    expect(asked.body).toEqual(totpRequired(subject.user.email));
    const code = await t.mail.codeFor(subject.user.email, { after: before });
    const answered = await createToken(subject, { agent, code, method: 'email' });
    expect(answered.status).toBe(200);

    // Same session, same user agent, rememberable route: no code needed.
    const remembered = await createToken(subject, { agent });
    expect(remembered.status).toBe(200);
    expect(remembered.body).toEqual(tokenCreated);

    // Another user agent on the same session is asked again.
    const otherAgent = await createToken(subject, { agent: newAgent() });
    expect(otherAgent.status).toBe(400);
    expect(otherAgent.body.errorType).toBe('totp-required');

    // Routes that are not rememberable always ask.
    const disable = await call(DISABLE_EMAIL_ROUTE, subject, { agent });
    expect(disable.status).toBe(400);
    expect(disable.body.errorType).toBe('totp-required');
    const deleteAccount = await call(DELETE_ACCOUNT_ROUTE, subject, { agent });
    expect(deleteAccount.status).toBe(400);
    expect(deleteAccount.body.errorType).toBe('totp-required');

    // Still remembered just before the window ends, asked again once it has.
    t.clock.advance(t.config.REMEMBER_2FA_SECONDS - 60);
    expect((await createToken(subject, { agent })).status).toBe(200);
    t.clock.advance(61);
    const expired = await createToken(subject, { agent });
    expect(expired.status).toBe(400);
    expect(expired.body).toEqual(totpRequired(subject.user.email));
    expect(await countPersonalTokens(subject.user.userId)).toBe(3);
  });

  it('a remembered second factor belongs to its session: another login session is asked', async () => {
    const subject = await loggedInUser();
    const agent = newAgent();
    const { code } = await requestCode(subject, agent);
    expect((await createToken(subject, { agent, code, method: 'email' })).status).toBe(200);

    const otherSession: Subject = {
      user: subject.user,
      auth: await loginWithEmailCode(api, t, subject.user, { 'user-agent': newAgent() }),
    };
    const asked = await createToken(otherSession, { agent });
    expect(asked.status).toBe(400);
    expect(asked.body.errorType).toBe('totp-required');
  });

  it('ten parallel requests with one code: exactly one succeeds', async () => {
    const subject = await loggedInUser();
    const { code } = await requestCode(subject);

    // Every request from its own user agent, so none is let through by a remembered success.
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => createToken(subject, { agent: newAgent(), code, method: 'email' })),
    );

    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
    for (const response of responses.filter((r) => r.status === 400)) {
      expect(['totp-invalid', 'totp-max-attempts']).toContain(response.body.errorType);
    }
    expect(await countPersonalTokens(subject.user.userId)).toBe(1);
  });

  it('ten parallel requests with one code on a non-rememberable route: exactly one succeeds', async () => {
    const subject = await loggedInUser();
    const agent = newAgent();
    const before = t.mail.messages.length;
    const asked = await call(DISABLE_EMAIL_ROUTE, subject, { agent });
    expect(asked.body).toEqual(totpRequired(subject.user.email));
    const code = await t.mail.codeFor(subject.user.email, { after: before });

    const responses = await Promise.all(
      Array.from({ length: 10 }, () => call(DISABLE_EMAIL_ROUTE, subject, { agent, code, method: 'email' })),
    );

    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
    expect(responses.find((r) => r.status === 200)!.body).toEqual({ success: true });
  });

  it('an expired code (older than EMAIL_CODE_TTL_SECONDS) is refused', async () => {
    const subject = await loggedInUser();
    const { code } = await requestCode(subject);

    t.clock.advance(t.config.EMAIL_CODE_TTL_SECONDS + 1);
    const expired = await createToken(subject, { agent: newAgent(), code, method: 'email' });

    expect(expired.status).toBe(400);
    expect(expired.body).toEqual(totpInvalid(subject.user.email));
    expect(await countPersonalTokens(subject.user.userId)).toBe(0);
    // The expired code does not hold back a new one.
    await requestCode(subject);
  });

  it('a code just inside EMAIL_CODE_TTL_SECONDS still works', async () => {
    const subject = await loggedInUser();
    const { code } = await requestCode(subject);
    t.clock.advance(t.config.EMAIL_CODE_TTL_SECONDS - 30);
    const response = await createToken(subject, { agent: newAgent(), code, method: 'email' });
    expect(response.status).toBe(200);
  });

  it('never puts the code in a response body', async () => {
    const subject = await loggedInUser();
    const agent = newAgent();
    const before = t.mail.messages.length;
    const required = await createToken(subject, { agent });
    expect(required.body.errorType).toBe('totp-required');
    const code = await t.mail.codeFor(subject.user.email, { after: before });
    const digits = code.replace('-', '');

    const notResent = await createToken(subject, { agent });
    expect(notResent.body.details.codeGenerated).toBe(false);
    const invalid = await createToken(subject, { agent, code: otherCode(code), method: 'email' });
    expect(invalid.body.errorType).toBe('totp-invalid');

    for (const response of [required, notResent, invalid]) {
      const json = JSON.stringify(response.body);
      expect(json).not.toContain(digits);
      expect(json).not.toContain(code);
      expect(JSON.stringify(Object.fromEntries(response.headers))).not.toContain(digits);
    }
  });
});
