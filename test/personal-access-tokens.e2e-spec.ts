import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, loginWithEmailCode, registerVerifiedUser } from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

describe('personal access tokens', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp();
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('one token per name, even for parallel requests', async () => {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'deploy' }, { auth })),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    for (const refused of answers.filter((a) => a.status !== 200)) {
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ success: false, errorType: 'error-token-already-exists' });
    }
  });

  it('lists names only, and a removed token stops working at once', async () => {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user);
    const created = await api.post(
      '/api/v1/users.generatePersonalAccessToken',
      { tokenName: 'ci', bypassTwoFactor: true },
      { auth },
    );
    expect(created.status).toBe(200);
    const pat = { userId: user.userId, authToken: created.body.token as string };
    expect((await api.get('/api/v1/me', { auth: pat })).status).toBe(200);

    const listed = await api.get('/api/v1/users.getPersonalAccessTokens', { auth });
    expect(listed.body).toEqual({
      success: true,
      tokens: [{ name: 'ci', createdAt: expect.any(String), lastUsedAt: expect.any(String), bypassTwoFactor: true }],
    });
    expect(JSON.stringify(listed.body)).not.toContain(pat.authToken);

    // Removing asks for the second factor like creating does (remembered here from the login).
    const removed = await api.post('/api/v1/users.removePersonalAccessToken', { tokenName: 'ci' }, { auth });
    expect(removed.body).toEqual({ success: true });
    expect((await api.get('/api/v1/me', { auth: pat })).status).toBe(401);
    expect((await api.get('/api/v1/users.getPersonalAccessTokens', { auth })).body.tokens).toEqual([]);
    const again = await api.post('/api/v1/users.removePersonalAccessToken', { tokenName: 'ci' }, { auth });
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ success: false, errorType: 'error-not-found' });
  });

  it('removing goes through the 2FA handshake for a client without a remembered second factor', async () => {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user);
    await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'ci' }, { auth });
    const asked = await api.post(
      '/api/v1/users.removePersonalAccessToken',
      { tokenName: 'ci' },
      { auth, headers: { 'user-agent': 'other/1.0' } },
    );
    expect(asked.status).toBe(400);
    expect(asked.body.errorType).toBe('totp-required');
    expect((await api.get('/api/v1/users.getPersonalAccessTokens', { auth })).body.tokens).toHaveLength(1);
  });
});
