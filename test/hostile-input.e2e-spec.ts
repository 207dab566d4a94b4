import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  type ApiResponse,
  type Credentials,
  loginWithEmailCode,
  registerVerifiedUser,
  type RequestOptions,
  type TestUser,
  uniqueName,
} from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * Hostile and malformed requests (API.md "Shapes": invalid parameters are 400 invalid-params in
 * surface 1's failure shape; an empty JSON body is a request without parameters). Every one must
 * answer a 4xx in that shape, never a 5xx, never echo a secret, and change nothing.
 */

const BODY_LIMIT = 4096;
const SECRET_PASSWORD = 'Hostile-Secret-Pass-7f3a9c';
const SECRET_CODE = '913-577';
/** Something that must never show up in an answer. */
const SECRETS = [SECRET_PASSWORD, SECRET_CODE, '913577'];

interface Endpoint {
  name: string;
  path: string;
  authenticated: boolean;
  /** A well-formed body for the endpoint carrying `value` in one of its string fields. */
  withString(value: unknown): Record<string, unknown>;
  /** A body with `value` as the display name, for endpoints that take one. */
  withName?(value: string): Record<string, unknown>;
  /** A raw body hiding a field in a nested object's `__proto__`. */
  nestedProto?: string;
}

interface HostileCase {
  name: string;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  /** The expected status when not 400. */
  status?: number;
}

/** The raw JSON of `body` with an extra key written first (JSON.stringify drops `__proto__`). */
const withRawKey = (key: string, value: unknown, body: Record<string, unknown>): string =>
  `{${JSON.stringify(key)}:${JSON.stringify(value)},${JSON.stringify(body).slice(1)}`;

function hostileCases(endpoint: Endpoint): HostileCase[] {
  const valid = endpoint.withString(uniqueName('hostile'));
  const form = new URLSearchParams(
    Object.entries(valid).map(([key, value]): [string, string] => [
      key,
      typeof value === 'string' ? value : JSON.stringify(value),
    ]),
  );
  const cases: HostileCase[] = [
    { name: 'malformed JSON', rawBody: `{"password": "${SECRET_PASSWORD}", "code": "${SECRET_CODE}"` },
    { name: 'JSON with a trailing comma', rawBody: `{"code": "${SECRET_CODE}",}` },
    { name: 'a JSON array', rawBody: JSON.stringify([valid]) },
    { name: 'a JSON string', rawBody: JSON.stringify(SECRET_PASSWORD) },
    { name: 'a JSON number', rawBody: '913577' },
    { name: 'JSON null', rawBody: 'null' },
    { name: 'JSON true', rawBody: 'true' },
    { name: 'a number for a string', body: endpoint.withString(913577) },
    { name: 'an object for a string', body: endpoint.withString({ $ne: null, password: SECRET_PASSWORD }) },
    { name: 'an array for a string', body: endpoint.withString([SECRET_PASSWORD]) },
    { name: 'a boolean for a string', body: endpoint.withString(true) },
    { name: 'an unknown field', body: { ...valid, isAdmin: true, code: SECRET_CODE, roles: ['admin'] } },
    {
      name: 'an oversized body',
      body: endpoint.withString(`${SECRET_PASSWORD}${'x'.repeat(BODY_LIMIT + 1)}`),
      status: 413,
    },
    { name: 'a very long string', body: endpoint.withString(`${SECRET_PASSWORD}${'a'.repeat(3000)}`) },
    { name: 'a __proto__ key', rawBody: withRawKey('__proto__', { isAdmin: true, roles: ['admin'] }, valid) },
    { name: 'a constructor.prototype key', rawBody: withRawKey('constructor', { prototype: { isAdmin: true } }, valid) },
    {
      name: 'a form body with a __proto__ key',
      rawBody: `${form.toString()}&__proto__=admin`,
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
    },
    // What a cross-site HTML form sends: the API reads JSON only (no login CSRF).
    { name: 'a valid form body', rawBody: form.toString(), contentType: 'application/x-www-form-urlencoded', status: 415 },
    // A JSON object sent as text/plain (what a cross-site form can send) is not read as JSON.
    { name: 'a text/plain body', rawBody: JSON.stringify(valid), contentType: 'text/plain' },
    {
      name: 'an XML body',
      rawBody: `<login><password>${SECRET_PASSWORD}</password></login>`,
      contentType: 'application/xml',
      status: 415,
    },
    {
      name: 'a multipart body',
      rawBody: `--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n${SECRET_PASSWORD}\r\n--b--\r\n`,
      contentType: 'multipart/form-data; boundary=b',
      status: 415,
    },
  ];
  if (endpoint.nestedProto) cases.push({ name: 'a nested __proto__ key', rawBody: endpoint.nestedProto });
  if (endpoint.withName) {
    for (const [label, name] of [
      ['NUL', 'Eve\u0000Admin'],
      ['an escape sequence', 'Eve\u001b[31mRed'],
      ['a newline', 'Eve\nAdmin: yes'],
      ['a carriage return', 'Eve\r\nSet-Cookie: x=1'],
      ['DEL', 'Eve\u007f'],
    ] as const) {
      cases.push({ name: `control characters in the name (${label})`, body: endpoint.withName(name) });
    }
  }
  return cases;
}

describe('hostile input (surface 1)', () => {
  let t: TestApp;
  let api: Api;
  let victim: TestUser;
  let victimAuth: Credentials;
  const agent = { 'user-agent': 'hostile-input/victim' };

  beforeAll(async () => {
    t = await createTestApp({ BODY_LIMIT_BYTES: String(BODY_LIMIT) });
    api = new Api(t.baseUrl);
    victim = await registerVerifiedUser(api, t);
    // Logged in with the emailed code: the route handshake below is remembered for this agent.
    victimAuth = await loginWithEmailCode(api, t, victim, agent);
  });
  afterAll(async () => t?.close());

  /** Counts and a digest of the rows a request could change. */
  async function snapshot(): Promise<Record<string, unknown>> {
    const [row] = await t.db.query(`
      SELECT (SELECT count(*) FROM users) AS users,
             (SELECT count(*) FROM user_emails) AS user_emails,
             (SELECT count(*) FROM sessions) AS sessions,
             (SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL) AS revoked_sessions,
             (SELECT count(*) FROM email_codes) AS email_codes,
             (SELECT count(*) FROM two_factor_methods) AS two_factor_methods,
             (SELECT count(*) FROM mail_outbox) AS mail_outbox,
             (SELECT md5(coalesce(string_agg(id || username || name || coalesce(password_hash, '') || array_to_string(roles, ','), '|' ORDER BY id), ''))
                FROM users) AS users_digest`);
    return row;
  }

  function expectSurfaceOneFailure(res: ApiResponse, status = 400): void {
    expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body).toEqual({
      success: false,
      errorType: expect.any(String),
      error: expect.stringMatching(/ \[[a-z0-9-]+\]$/),
    });
    expect(res.body.error.endsWith(`[${res.body.errorType}]`)).toBe(true);
  }

  function expectNoSecrets(res: ApiResponse): void {
    const text = JSON.stringify(res.body);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    // Nothing submitted comes back at length either.
    expect(text.length).toBeLessThan(1000);
  }

  const endpoints: Endpoint[] = [
    {
      name: 'POST /api/v1/login',
      path: '/api/v1/login',
      authenticated: false,
      withString: (value) => ({ user: value, password: SECRET_PASSWORD, code: SECRET_CODE }),
    },
    {
      name: 'POST /api/v1/users.register',
      path: '/api/v1/users.register',
      authenticated: false,
      withString: (value) => {
        const username = uniqueName('hostile');
        return { username: value, email: `${username}@example.com`, pass: SECRET_PASSWORD, name: 'Hostile' };
      },
      withName: (name) => {
        const username = uniqueName('hostile');
        return { username, email: `${username}@example.com`, pass: SECRET_PASSWORD, name };
      },
    },
    {
      name: 'POST /api/v1/users.2fa.sendEmailCode',
      path: '/api/v1/users.2fa.sendEmailCode',
      authenticated: false,
      withString: (value) => ({ emailOrUsername: value }),
    },
    {
      name: 'POST /api/v1/users.verifyEmail',
      path: '/api/v1/users.verifyEmail',
      authenticated: false,
      withString: (value) => ({ token: value }),
    },
    {
      name: 'POST /api/v1/users.updateOwnBasicInfo (authenticated, 2FA remembered)',
      path: '/api/v1/users.updateOwnBasicInfo',
      authenticated: true,
      withString: (value) => ({ data: { name: value } }),
      withName: (name) => ({ data: { name } }),
      nestedProto: `{"data":{"__proto__":{"email":"taken-over@example.com","newPassword":"${SECRET_PASSWORD}"},"name":"Proto"}}`,
    },
  ];

  for (const endpoint of endpoints) {
    describe(endpoint.name, () => {
      for (const hostile of hostileCases(endpoint)) {
        it(`${hostile.name}: 4xx in surface 1's shape, nothing echoed, nothing changed`, async () => {
          const options: RequestOptions = { headers: { ...agent } };
          if (endpoint.authenticated) options.auth = victimAuth;
          if (hostile.contentType) options.headers!['content-type'] = hostile.contentType;
          if (hostile.rawBody !== undefined) options.rawBody = hostile.rawBody;
          const before = await snapshot();
          const mailBefore = t.mail.messages.length;

          const res = await api.post(endpoint.path, hostile.body, options);

          expectSurfaceOneFailure(res, hostile.status);
          expectNoSecrets(res);
          expect(await snapshot()).toEqual(before);
          expect(t.mail.messages.length).toBe(mailBefore);
        });
      }
    });
  }

  it('the authenticated route still works for the victim afterwards (the session was not harmed)', async () => {
    const res = await api.post(
      '/api/v1/users.updateOwnBasicInfo',
      { data: { name: 'Still Fine' } },
      { auth: victimAuth, headers: agent },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, user: { _id: victim.userId, name: 'Still Fine' } });
    const me = await api.get('/api/v1/me', { auth: victimAuth });
    expect(me.body).toMatchObject({ username: victim.username, roles: ['user'] });
  });

  describe('empty bodies', () => {
    it('a POST with Content-Type application/json and an empty body to users.2fa.enableEmail is a valid request', async () => {
      const user = await registerVerifiedUser(api, t);
      const auth = await loginWithEmailCode(api, t, user, { 'user-agent': 'hostile-input/empty-body' });
      const res = await api.post('/api/v1/users.2fa.enableEmail', undefined, {
        auth,
        rawBody: '',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
    });

    it('an empty JSON body where a parameter is required answers error-parameter-required', async () => {
      const res = await api.post('/api/v1/users.2fa.sendEmailCode', undefined, {
        rawBody: '',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        success: false,
        errorType: 'error-parameter-required',
        error: expect.stringMatching(/ \[error-parameter-required\]$/),
      });
    });
  });

  describe('unknown routes', () => {
    for (const [method, path] of [
      ['GET', '/api/v1/no.such.endpoint'],
      ['POST', '/api/v1/no.such.endpoint'],
      ['DELETE', '/api/v1/login'],
      ['GET', '/api/v1/../../etc/passwd'],
      ['GET', '/nothing-here'],
    ] as const) {
      it(`${method} ${path} answers 404 in surface 1's shape`, async () => {
        const res = await api.request(method, path);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ success: false, errorType: 'error-not-found', error: 'Not found [error-not-found]' });
      });
    }
  });

  describe('2FA header tricks', () => {
    let user: TestUser;
    let auth: Credentials;
    const trickAgent = { 'user-agent': 'hostile-input/headers' };
    beforeAll(async () => {
      user = await registerVerifiedUser(api, t);
      auth = await loginWithEmailCode(api, t, user, trickAgent);
    });

    const totpInvalid = () => ({
      success: false,
      error: 'TOTP Invalid [totp-invalid]',
      errorType: 'totp-invalid',
      details: { method: 'email', codeGenerated: false, emailOrUsername: user.email, availableMethods: ['email'] },
    });

    it('x-2fa-method with an unknown value answers 400 totp-invalid', async () => {
      for (const method of ['sms', 'password', 'totp', 'EMAIL; DROP TABLE users', '__proto__']) {
        const res = await api.post('/api/v1/users.2fa.disableEmail', undefined, {
          auth,
          headers: { ...trickAgent, 'x-2fa-method': method, 'x-2fa-code': SECRET_CODE },
        });
        expect(res.status, method).toBe(400);
        expect(res.body).toEqual(totpInvalid());
        expectNoSecrets(res);
      }
      const me = await api.get('/api/v1/me', { auth });
      expect(me.body.services.email2fa).toEqual({ enabled: true });
    });

    it('a 10 KB x-2fa-code answers 4xx, not 5xx, and is not echoed', async () => {
      const huge = `${SECRET_PASSWORD}${'9'.repeat(10 * 1024)}`;
      const res = await api.post('/api/v1/users.2fa.disableEmail', undefined, {
        auth,
        headers: { ...trickAgent, 'x-2fa-method': 'email', 'x-2fa-code': huge },
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(totpInvalid());
      expectNoSecrets(res);

      const login = await api.post(
        '/api/v1/login',
        { user: user.username, password: user.password },
        {
          headers: { ...trickAgent, 'x-2fa-method': 'email', 'x-2fa-code': huge },
        },
      );
      expect(login.status).toBe(401);
      expect(login.body).toMatchObject({ status: 'error', error: 'totp-invalid', message: 'TOTP Invalid' });
      expectNoSecrets(login);

      const me = await api.get('/api/v1/me', { auth });
      expect(me.body.services.email2fa).toEqual({ enabled: true });
    });
  });
});
