import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, loginWithEmailCode, registerVerifiedUser } from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

describe('smoke', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp();
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  it('health', async () => {
    const res = await api.get('/health');
    expect(res.body).toEqual({ status: 'ok', database: 'up' });
  });

  it('register, verify, login with emailed code, me', async () => {
    const user = await registerVerifiedUser(api, t);
    const creds = await loginWithEmailCode(api, t, user);
    const me = await api.get('/api/v1/me', { auth: creds });
    expect(me.status).toBe(200);
    expect(me.body.services.email2fa.enabled).toBe(true);
  });
});

describe('health with the database down', () => {
  it('answers 503 {status:"error", database:"down"}', async () => {
    const t = await createTestApp();
    try {
      // The service's own pool, as if PostgreSQL had gone away.
      await t.db.destroy();
      const res = await new Api(t.baseUrl).get('/health');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ status: 'error', database: 'down' });
    } finally {
      await t.close();
    }
  });
});
