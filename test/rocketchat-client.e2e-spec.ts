import { RestClient } from '@rocket.chat/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * The published Rocket.Chat REST client, unchanged, against this service: it registers, verifies
 * its email, logs in with the emailed code, enables email 2FA and completes the handshake through
 * its own handleTwoFactorChallenge callback, with codes read from real mail.
 */
describe('@rocket.chat/api-client', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  const errorBody = async (promise: Promise<unknown>): Promise<{ status: number; body: any }> => {
    try {
      await promise;
    } catch (rejected) {
      const response = rejected as Response;
      return { status: response.status, body: await response.json() };
    }
    throw new Error('expected the client call to fail');
  };

  it('completes register → verify → login → enableEmail → 2FA handshake', async () => {
    const client = new RestClient({ baseUrl: t.baseUrl });
    const username = uniqueName('rc');
    const email = `${username}@example.com`;
    const password = 'a long enough password';

    const registered: any = await client.post(
      '/v1/users.register' as any,
      { username, email, pass: password, name: 'RC User' } as any,
    );
    expect(registered).toMatchObject({ success: true, user: { username, emails: [{ address: email, verified: false }] } });

    const token = new URL(await t.mail.linkFor(email)).searchParams.get('token');
    await expect(client.post('/v1/users.verifyEmail' as any, { token } as any)).resolves.toEqual({ success: true });

    // Email 2FA is on by default once the address is verified: the login answers 401 totp-required.
    const before = t.mail.messages.length;
    const required = await errorBody(client.post('/v1/login' as any, { user: username, password } as any));
    expect(required.status).toBe(401);
    expect(required.body).toMatchObject({
      status: 'error',
      error: 'totp-required',
      details: { method: 'email', codeGenerated: true, emailOrUsername: email, availableMethods: ['email'] },
    });
    const loginCode = await t.mail.codeFor(email, { after: before });
    const login: any = await client.post('/v1/login' as any, { user: username, password, code: loginCode } as any);
    expect(login.status).toBe('success');
    client.setCredentials({ 'X-User-Id': login.data.userId, 'X-Auth-Token': login.data.authToken });

    await expect(client.get('/v1/me' as any)).resolves.toMatchObject({ username, services: { email2fa: { enabled: true } } });
    await expect(client.post('/v1/users.2fa.enableEmail' as any, undefined as any)).resolves.toEqual({ success: true });

    // disableEmail asks every time: the client's own challenge handler answers with the mailed code.
    const challenges: Array<{ method: string; emailOrUsername?: string; invalidAttempt?: boolean }> = [];
    client.handleTwoFactorChallenge(async (challenge: any) => {
      challenges.push(challenge);
      return t.mail.codeFor(email, { after: t.mail.messages.length - 1 });
    });
    await expect(client.post('/v1/users.2fa.disableEmail' as any, undefined as any)).resolves.toEqual({ success: true });
    expect(challenges).toEqual([{ method: 'email', emailOrUsername: email, invalidAttempt: false }]);
    await expect(client.get('/v1/me' as any)).resolves.toMatchObject({ services: { email2fa: { enabled: false } } });

    // The session is now remembered for this client: a rememberable 2FA route passes without a code.
    const pat: any = await client.post('/v1/users.generatePersonalAccessToken' as any, { tokenName: 'ci' } as any);
    expect(pat).toMatchObject({ success: true, token: expect.any(String) });

    // With no method left, a non-rememberable route falls back to the password: the client sends its SHA-256.
    const { createHash } = await import('node:crypto');
    challenges.length = 0;
    client.handleTwoFactorChallenge(async (challenge: any) => {
      challenges.push(challenge);
      return createHash('sha256').update(password).digest('hex');
    });
    await expect(client.post('/v1/users.deleteOwnAccount' as any, undefined as any)).resolves.toEqual({ success: true });
    expect(challenges).toEqual([{ method: 'password', emailOrUsername: email, invalidAttempt: false }]);
    const gone = await errorBody(client.post('/v1/login' as any, { user: username, password } as any));
    expect(gone).toEqual({ status: 401, body: { status: 'error', error: 'Unauthorized', message: 'Unauthorized' } });
  });
});
