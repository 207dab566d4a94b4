import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, loginWithEmailCode, registerVerifiedUser, sha256 } from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

describe('login sessions', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp();
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  const lastUsed = async (tokenHash: string): Promise<Date | null> => {
    const [row] = await t.db.query('SELECT last_used_at FROM sessions WHERE token_hash = $1', [tokenHash]);
    return row.last_used_at;
  };

  it('stores only the hash of the token and records use at most once a minute', async () => {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user);
    const hash = sha256(auth.authToken);
    const stored = await t.db.query('SELECT token_hash FROM sessions WHERE user_id = $1', [user.userId]);
    expect(stored).toEqual([{ token_hash: hash }]);

    expect((await api.get('/api/v1/me', { auth })).status).toBe(200);
    const first = await waitForValue(() => lastUsed(hash));
    expect((await api.get('/api/v1/me', { auth })).status).toBe(200);
    expect(await lastUsed(hash)).toEqual(first);

    t.clock.advance(61);
    expect((await api.get('/api/v1/me', { auth })).status).toBe(200);
    const later = await waitForValue(async () => {
      const value = await lastUsed(hash);
      return value && value.getTime() > first.getTime() ? value : null;
    });
    expect(later.getTime() - first.getTime()).toBeGreaterThanOrEqual(61_000);
  });
});

/** The use is recorded without delaying the response: poll briefly for it. */
async function waitForValue<T>(read: () => Promise<T | null>): Promise<T> {
  for (let i = 0; i < 50; i++) {
    const value = await read();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('value never appeared');
}
