import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChallengesService } from '../src/challenge/challenges.service.js';
import { EmailCodesRepository } from '../src/two-factor/repositories/email-codes.repository.js';
import { Api, loginWithEmailCode, registerVerifiedUser, type TestUser } from './helpers/api.js';
import { holdUntilAll } from './helpers/barrier.js';
import { PAT_ROUTE } from './helpers/routes.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * Parallel requests made to overlap for certain: each test holds its requests at the server (an
 * in-process barrier) until all have arrived, then lets them race. A single-use check that only
 * held when requests happened to interleave would fail here every time.
 */
describe('races: one code, many requests', () => {
  let t: TestApp;
  let api: Api;
  let codes: EmailCodesRepository;
  let challenges: ChallengesService;
  let agentSequence = 0;
  const newAgent = () => ({ 'user-agent': `races/${++agentSequence}` });

  beforeAll(async () => {
    // Attempt limits out of the way: every request must reach the use of the code.
    t = await createTestApp({ EMAIL_CODE_MAX_ATTEMPTS: '20', LOCKOUT_THRESHOLD: '100', LOCKOUT_MAX_FAILURES: '1000' });
    api = new Api(t.baseUrl);
    codes = t.app.get(EmailCodesRepository, { strict: false });
    challenges = t.app.get(ChallengesService, { strict: false });
  });
  afterAll(async () => t?.close());

  async function startLogin(user: TestUser): Promise<{ challengeId: string; code: string }> {
    const before = t.mail.messages.length;
    const res = await api.post('/api/v1/login', { user: user.username, password: user.password });
    expect(res.body.error).toBe('totp-required');
    return { challengeId: res.body.details.challengeId, code: await t.mail.codeFor(user.email, { after: before }) };
  }

  const loginSessions = async (userId: string): Promise<number> =>
    (await t.db.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND kind = 'login'`, [userId]))[0].n;

  it('the 2FA handshake: 10 requests that all found the code unused, exactly one uses it', async () => {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user, newAgent());
    const before = t.mail.messages.length;
    expect((await api.post(PAT_ROUTE, { tokenName: 'ask' }, { auth, headers: newAgent() })).body.errorType).toBe('totp-required');
    const code = await t.mail.codeFor(user.email, { after: before });

    const barrier = holdUntilAll(codes, 'markConsumed', 10);
    try {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          api.post(
            PAT_ROUTE,
            { tokenName: `t${i}` },
            { auth, headers: { ...newAgent(), 'x-2fa-code': code, 'x-2fa-method': 'email' } },
          ),
        ),
      );
      expect(barrier.arrivals()).toBe(10);
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
      expect(answers.filter((answer) => answer.body.errorType === 'totp-invalid')).toHaveLength(9);
    } finally {
      barrier.restore();
    }
    const [{ n }] = await t.db.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND kind = 'personal'`, [
      user.userId,
    ]);
    expect(n).toBe(1);
  });

  it('login with the code: 8 parallel logins with one code open exactly one session', async () => {
    const user = await registerVerifiedUser(api, t);
    const { code } = await startLogin(user);
    const sessionsBefore = await loginSessions(user.userId);

    const barrier = holdUntilAll(codes, 'markConsumed', 8);
    try {
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => api.post('/api/v1/login', { user: user.username, password: user.password, code })),
      );
      expect(barrier.arrivals()).toBe(8);
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
      for (const answer of answers.filter((a) => a.status !== 200)) expect(answer.body.error).toBe('totp-invalid');
    } finally {
      barrier.restore();
    }
    expect(await loginSessions(user.userId)).toBe(sessionsBefore + 1);
  });

  for (const parallel of [2, 6, 20]) {
    it(`a login challenge: ${parallel} parallel verifyChallenge calls with the right code, exactly one succeeds`, async () => {
      const user = await registerVerifiedUser(api, t);
      const { challengeId, code } = await startLogin(user);
      const sessionsBefore = await loginSessions(user.userId);

      const barrier = holdUntilAll(challenges, 'verifyThen', parallel);
      try {
        const answers = await Promise.all(
          Array.from({ length: parallel }, () => api.post('/api/v1/twoFactorChallenges.verifyChallenge', { challengeId, code })),
        );
        expect(barrier.arrivals()).toBe(parallel);
        expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
        // The others find the challenge completed: gone, not "wrong code", and nothing counted against the user.
        for (const answer of answers.filter((a) => a.status !== 200)) {
          expect(answer.body).toEqual({
            success: false,
            error: 'challenge not found [error-challenge-not-found]',
            errorType: 'error-challenge-not-found',
          });
        }
      } finally {
        barrier.restore();
      }
      expect(await loginSessions(user.userId)).toBe(sessionsBefore + 1);
      const [failures] = await t.db.query('SELECT consecutive_failures FROM second_factor_failures WHERE user_id = $1', [
        user.userId,
      ]);
      expect(failures?.consecutive_failures ?? 0).toBe(0);
    });
  }
});

describe('races: a right code among wrong guesses on a challenge (default limits)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp();
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('20 parallel wrong guesses get at most EMAIL_CODE_MAX_ATTEMPTS checks; then the challenge is gone', async () => {
    const user = await registerVerifiedUser(api, t);
    const before = t.mail.messages.length;
    const login = await api.post('/api/v1/login', { user: user.username, password: user.password });
    const challengeId = login.body.details.challengeId as string;
    const code = (await t.mail.codeFor(user.email, { after: before })).replace('-', '');
    const challenges = t.app.get(ChallengesService, { strict: false });

    const barrier = holdUntilAll(challenges, 'verifyThen', 20);
    try {
      const guesses = Array.from({ length: 20 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
      const answers = await Promise.all(
        guesses.map((guess) => api.post('/api/v1/twoFactorChallenges.verifyChallenge', { challengeId, code: guess })),
      );
      expect(barrier.arrivals()).toBe(20);
      const types = answers.map((answer) => answer.body.errorType);
      expect(types.filter((type) => type === 'error-invalid-code')).toHaveLength(t.config.EMAIL_CODE_MAX_ATTEMPTS - 1);
      expect(types.filter((type) => type === 'totp-max-attempts')).toHaveLength(1);
      expect(types.filter((type) => type === 'error-challenge-not-found')).toHaveLength(20 - t.config.EMAIL_CODE_MAX_ATTEMPTS);
    } finally {
      barrier.restore();
    }
    const [failures] = await t.db.query('SELECT consecutive_failures FROM second_factor_failures WHERE user_id = $1', [
      user.userId,
    ]);
    expect(failures.consecutive_failures).toBe(t.config.EMAIL_CODE_MAX_ATTEMPTS);
  });
});

describe('the remember window is bound to the client address (TRUST_PROXY=1)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ TRUST_PROXY: '1' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('the same user agent from another address is asked for the second factor again', async () => {
    const user = await registerVerifiedUser(api, t);
    const from = (address: string) => ({ 'user-agent': 'same-browser/1.0', 'x-forwarded-for': address });
    const auth = await loginWithEmailCode(api, t, user, from('203.0.113.10'));

    const sameClient = await api.post(PAT_ROUTE, { tokenName: 'a' }, { auth, headers: from('203.0.113.10') });
    expect(sameClient.status).toBe(200);
    const otherAddress = await api.post(PAT_ROUTE, { tokenName: 'b' }, { auth, headers: from('198.51.100.7') });
    expect(otherAddress.status).toBe(400);
    expect(otherAddress.body.errorType).toBe('totp-required');
  });
});
