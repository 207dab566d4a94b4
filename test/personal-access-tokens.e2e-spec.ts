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
      tokens: [
        {
          name: 'ci',
          createdAt: expect.any(String),
          lastTokenPart: pat.authToken.slice(-6),
          lastUsedAt: expect.any(String),
          bypassTwoFactor: true,
        },
      ],
    });
    expect(JSON.stringify(listed.body)).not.toContain(pat.authToken);

    // Removing asks for the second factor like creating does (remembered here from the login).
    const removed = await api.post('/api/v1/users.removePersonalAccessToken', { tokenName: 'ci' }, { auth });
    expect(removed.body).toEqual({ success: true });
    expect((await api.get('/api/v1/me', { auth: pat })).status).toBe(401);
    expect((await api.get('/api/v1/users.getPersonalAccessTokens', { auth })).body.tokens).toEqual([]);
    const again = await api.post('/api/v1/users.removePersonalAccessToken', { tokenName: 'ci' }, { auth });
    // Rocket.Chat's answer for an unknown token: 400, not 404.
    expect(again.status).toBe(400);
    expect(again.body).toEqual({
      success: false,
      errorType: 'error-token-does-not-exists',
      error: 'Token does not exist [error-token-does-not-exists]',
    });
  });

  it('regenerate gives the named token a new secret (same bypass); the old one stops at once', async () => {
    const user = await registerVerifiedUser(api, t);
    const auth = await loginWithEmailCode(api, t, user);
    const created = await api.post(
      '/api/v1/users.generatePersonalAccessToken',
      { tokenName: 'bot', bypassTwoFactor: true },
      { auth },
    );
    const old = { userId: user.userId, authToken: created.body.token as string };
    expect((await api.get('/api/v1/me', { auth: old })).status).toBe(200);

    const regenerated = await api.post('/api/v1/users.regeneratePersonalAccessToken', { tokenName: 'bot' }, { auth });
    expect(regenerated.status).toBe(200);
    expect(regenerated.body).toEqual({ success: true, token: expect.any(String) });
    const fresh = { userId: user.userId, authToken: regenerated.body.token as string };
    expect(fresh.authToken).not.toBe(old.authToken);
    expect((await api.get('/api/v1/me', { auth: old })).status).toBe(401);
    expect((await api.get('/api/v1/me', { auth: fresh })).status).toBe(200);
    // Still a bypass token: a 2FA route does not ask it for a second factor.
    const bypass = await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'other' }, { auth: fresh });
    expect(bypass.body).toEqual({ success: true, token: expect.any(String) });
    const listed = await api.get('/api/v1/users.getPersonalAccessTokens', { auth });
    expect(listed.body.tokens.find((token: { name: string }) => token.name === 'bot')).toMatchObject({
      lastTokenPart: fresh.authToken.slice(-6),
      bypassTwoFactor: true,
    });

    const unknown = await api.post('/api/v1/users.regeneratePersonalAccessToken', { tokenName: 'nope' }, { auth });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({
      success: false,
      errorType: 'error-token-does-not-exists',
      error: 'Token does not exist [error-token-does-not-exists]',
    });
    // Like every token change, it asks a client without a remembered second factor for one.
    const asked = await api.post(
      '/api/v1/users.regeneratePersonalAccessToken',
      { tokenName: 'bot' },
      { auth, headers: { 'user-agent': 'other/1.0' } },
    );
    expect(asked.body.errorType).toBe('totp-required');
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
