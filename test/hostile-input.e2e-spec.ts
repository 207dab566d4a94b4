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

type Caller = 'anonymous' | 'victim' | 'admin';

interface Endpoint {
  name: string;
  path: string;
  caller: Caller;
  /** A well-formed body for the endpoint (fresh names each call). */
  valid(): Record<string, unknown>;
  /** Where a string is expected, as dotted paths into the body. */
  stringFields: string[];
  /** Fields taking a display name, for the control-character cases. */
  nameField?: string;
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

/** `body` with `value` at the dotted `path`. */
function setAt(body: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.') as [string, ...string[]];
  if (rest.length === 0) return { ...body, [head]: value };
  return { ...body, [head]: setAt((body[head] as Record<string, unknown>) ?? {}, rest.join('.'), value) };
}

/** Every class of value that is not a string where a string is expected, or a string no field may hold. */
const HOSTILE_VALUES: Array<[string, unknown, number?]> = [
  ['a NUL byte', `a\u0000${SECRET_CODE}`],
  ['an unpaired surrogate', `\ud800x${SECRET_PASSWORD}`],
  ['a lone low surrogate', `x\udc00`],
  ['null', null],
  ['an array', [SECRET_PASSWORD]],
  ['a number', 913577],
  ['a boolean', true],
  ['an object', { $ne: null, password: SECRET_PASSWORD }],
  ['an object with toString', { toString: 'x' }],
  ['a 100 kB string', `${SECRET_PASSWORD}${'x'.repeat(100 * 1024)}`, 413],
];

function hostileCases(endpoint: Endpoint): HostileCase[] {
  const valid = endpoint.valid();
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
    {
      name: 'an oversized body',
      body: { ...valid, padding: `${SECRET_PASSWORD}${'x'.repeat(BODY_LIMIT + 1)}` },
      status: 413,
    },
    { name: 'a __proto__ key', rawBody: withRawKey('__proto__', { isAdmin: true, roles: ['admin'] }, valid) },
    { name: 'a constructor.prototype key', rawBody: withRawKey('constructor', { prototype: { isAdmin: true } }, valid) },
    { name: 'a toString key', rawBody: withRawKey('toString', SECRET_PASSWORD, valid) },
    { name: 'a hasOwnProperty key', rawBody: withRawKey('hasOwnProperty', 'x', valid) },
    { name: 'a NUL byte in a key', rawBody: withRawKey('a\u0000b', 'x', valid) },
    {
      name: 'a form body with a __proto__ key',
      rawBody: `${form.toString()}&__proto__=admin`,
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
    },
    // What a cross-site HTML form sends: the API reads JSON only (no login CSRF).
    { name: 'a valid form body', rawBody: form.toString(), contentType: 'application/x-www-form-urlencoded', status: 415 },
    // A JSON object sent as text/plain (what a cross-site form can send) is not read as JSON.
    { name: 'a text/plain body', rawBody: JSON.stringify(valid), contentType: 'text/plain', status: 415 },
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
    { name: 'an octet-stream body', rawBody: SECRET_PASSWORD, contentType: 'application/octet-stream', status: 415 },
  ];
  for (const field of endpoint.stringFields) {
    for (const [label, value, status] of HOSTILE_VALUES) {
      cases.push({ name: `${label} in ${field}`, body: setAt(valid, field, value), ...(status ? { status } : {}) });
    }
  }
  if (endpoint.nestedProto) cases.push({ name: 'a nested __proto__ key', rawBody: endpoint.nestedProto });
  if (endpoint.nameField) {
    for (const [label, name] of [
      ['NUL', 'Eve\u0000Admin'],
      ['an escape sequence', 'Eve\u001b[31mRed'],
      ['a newline', 'Eve\nAdmin: yes'],
      ['a carriage return', 'Eve\r\nSet-Cookie: x=1'],
      ['DEL', 'Eve\u007f'],
    ] as const) {
      cases.push({ name: `control characters in the name (${label})`, body: setAt(valid, endpoint.nameField, name) });
    }
  }
  return cases;
}

const ADMIN = { username: 'hostileadmin', email: 'hostileadmin@example.com', password: 'hostile admin password' };

describe('hostile input (surface 1)', () => {
  let t: TestApp;
  let api: Api;
  let victim: TestUser;
  let victimAuth: Credentials;
  let adminAuth: Credentials;
  const agent = { 'user-agent': 'hostile-input/victim' };

  // Everything the app writes while this file runs: a hostile request must not log an error or a stack trace.
  const logged: string[] = [];
  const originalWrites = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  const capture =
    (original: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      logged.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    };

  beforeAll(async () => {
    process.stdout.write = capture(originalWrites.out) as typeof process.stdout.write;
    process.stderr.write = capture(originalWrites.err) as typeof process.stderr.write;
    t = await createTestApp({
      BODY_LIMIT_BYTES: String(BODY_LIMIT),
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    api = new Api(t.baseUrl);
    victim = await registerVerifiedUser(api, t);
    // Logged in with the emailed code: the route handshake below is remembered for this agent.
    victimAuth = await loginWithEmailCode(api, t, victim, agent);
    adminAuth = await loginWithEmailCode(api, t, { ...ADMIN, userId: '' }, agent);
    // A token to regenerate or remove, so those bodies are otherwise valid.
    await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'keep' }, { auth: victimAuth, headers: agent });
  });
  afterAll(async () => {
    process.stdout.write = originalWrites.out;
    process.stderr.write = originalWrites.err;
    await t?.close();
  });

  /** Every row a request could change, as a digest per table (last_used_at is touched by reads). */
  async function snapshot(): Promise<Record<string, unknown>> {
    const tables = [
      'users',
      'user_emails',
      'sessions',
      'two_factor_methods',
      'email_codes',
      'backup_codes',
      'code_attempts',
      'second_factor_failures',
      'challenges',
      'mail_outbox',
      'audit_events',
    ];
    const digests: Record<string, unknown> = {};
    for (const table of tables) {
      const [row] = await t.db.query(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg((to_jsonb(x) - 'last_used_at')::text, '|' ORDER BY (to_jsonb(x) - 'last_used_at')::text), '')) AS digest FROM ${table} x`,
      );
      digests[table] = row;
    }
    return digests;
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
    if (status === 400) expect(['invalid-params', 'error-parameter-required']).toContain(res.body.errorType);
  }

  function expectNoSecrets(res: ApiResponse): void {
    const text = JSON.stringify(res.body);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    // Nothing submitted comes back at length either.
    expect(text.length).toBeLessThan(1000);
  }

  const fresh = () => uniqueName('hostile');
  const endpoints: Endpoint[] = [
    {
      name: 'POST /api/v1/login',
      path: '/api/v1/login',
      caller: 'anonymous',
      valid: () => ({ user: fresh(), password: SECRET_PASSWORD, code: SECRET_CODE }),
      stringFields: ['user', 'password', 'code'],
    },
    {
      name: 'POST /api/v1/login (resume)',
      path: '/api/v1/login',
      caller: 'anonymous',
      valid: () => ({ resume: SECRET_PASSWORD }),
      stringFields: ['resume'],
    },
    {
      name: 'POST /api/v1/users.register',
      path: '/api/v1/users.register',
      caller: 'anonymous',
      valid: () => {
        const username = fresh();
        return { username, email: `${username}@example.com`, pass: SECRET_PASSWORD, name: 'Hostile' };
      },
      stringFields: ['username', 'email', 'pass', 'name'],
      nameField: 'name',
    },
    {
      name: 'POST /api/v1/users.sendConfirmationEmail',
      path: '/api/v1/users.sendConfirmationEmail',
      caller: 'anonymous',
      valid: () => ({ email: `${fresh()}@example.com` }),
      stringFields: ['email'],
    },
    {
      name: 'POST /api/v1/users.verifyEmail',
      path: '/api/v1/users.verifyEmail',
      caller: 'anonymous',
      valid: () => ({ token: fresh() }),
      stringFields: ['token'],
    },
    {
      name: 'POST /api/v1/users.2fa.sendEmailCode',
      path: '/api/v1/users.2fa.sendEmailCode',
      caller: 'anonymous',
      valid: () => ({ emailOrUsername: fresh() }),
      stringFields: ['emailOrUsername'],
    },
    {
      name: 'POST /api/v1/twoFactorChallenges.sendEmailCode',
      path: '/api/v1/twoFactorChallenges.sendEmailCode',
      caller: 'anonymous',
      valid: () => ({ challengeId: 'ab'.repeat(32) }),
      stringFields: ['challengeId'],
    },
    {
      name: 'POST /api/v1/twoFactorChallenges.verifyChallenge',
      path: '/api/v1/twoFactorChallenges.verifyChallenge',
      caller: 'anonymous',
      valid: () => ({ challengeId: 'ab'.repeat(32), code: SECRET_CODE }),
      stringFields: ['challengeId', 'code'],
    },
    {
      name: 'POST /api/v1/users.updateOwnBasicInfo (authenticated, 2FA remembered)',
      path: '/api/v1/users.updateOwnBasicInfo',
      caller: 'victim',
      valid: () => ({ data: { name: 'Victim' } }),
      stringFields: ['data.name', 'data.username', 'data.email', 'data.currentPassword', 'data.newPassword'],
      nameField: 'data.name',
      nestedProto: `{"data":{"__proto__":{"email":"taken-over@example.com","newPassword":"${SECRET_PASSWORD}"},"name":"Proto"}}`,
    },
    {
      name: 'POST /api/v1/users.generatePersonalAccessToken',
      path: '/api/v1/users.generatePersonalAccessToken',
      caller: 'victim',
      valid: () => ({ tokenName: fresh() }),
      stringFields: ['tokenName'],
      nameField: 'tokenName',
    },
    {
      name: 'POST /api/v1/users.regeneratePersonalAccessToken',
      path: '/api/v1/users.regeneratePersonalAccessToken',
      caller: 'victim',
      valid: () => ({ tokenName: 'keep' }),
      stringFields: ['tokenName'],
    },
    {
      name: 'POST /api/v1/users.removePersonalAccessToken',
      path: '/api/v1/users.removePersonalAccessToken',
      caller: 'victim',
      valid: () => ({ tokenName: 'keep' }),
      stringFields: ['tokenName'],
    },
    {
      name: 'POST /api/v1/users.deleteOwnAccount',
      path: '/api/v1/users.deleteOwnAccount',
      caller: 'victim',
      valid: () => ({ password: 'ab'.repeat(32) }),
      stringFields: ['password'],
    },
    {
      name: 'POST /api/v1/users.2fa.validateTOTP',
      path: '/api/v1/users.2fa.validateTOTP',
      caller: 'victim',
      valid: () => ({ code: SECRET_CODE }),
      stringFields: ['code'],
    },
    {
      name: 'POST /api/v1/users.create (admin)',
      path: '/api/v1/users.create',
      caller: 'admin',
      valid: () => {
        const username = fresh();
        return { username, email: `${username}@example.com`, password: SECRET_PASSWORD, name: 'Hostile' };
      },
      stringFields: ['username', 'email', 'password', 'name'],
      nameField: 'name',
    },
    {
      name: 'POST /api/v1/users.2fa.unlock (admin)',
      path: '/api/v1/users.2fa.unlock',
      caller: 'admin',
      valid: () => ({ userId: fresh() }),
      stringFields: ['userId'],
    },
  ];

  const optionsFor = (caller: Caller): RequestOptions => ({
    headers: { ...agent },
    ...(caller === 'victim' ? { auth: victimAuth } : caller === 'admin' ? { auth: adminAuth } : {}),
  });

  for (const endpoint of endpoints) {
    describe(endpoint.name, () => {
      for (const hostile of hostileCases(endpoint)) {
        it(`${hostile.name}: 4xx in surface 1's shape, nothing echoed, nothing changed`, async () => {
          const options = optionsFor(endpoint.caller);
          if (hostile.contentType) options.headers!['content-type'] = hostile.contentType;
          if (hostile.rawBody !== undefined) options.rawBody = hostile.rawBody;
          const before = await snapshot();
          await t.mailSettled();
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

  describe('routes without a body: anything but JSON is 415, a hostile query is 400', () => {
    const bodiless: Array<[string, string]> = [
      ['POST', '/api/v1/logout'],
      ['POST', '/api/v1/users.2fa.enableEmail'],
      ['POST', '/api/v1/users.2fa.disableEmail'],
      ['POST', '/api/v1/users.2fa.enableTOTP'],
      ['POST', '/api/v1/users.2fa.disableTOTP'],
      ['POST', '/api/v1/users.2fa.regenerateBackupCodes'],
    ];
    for (const [method, path] of bodiless) {
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
        it(`${method} ${path} with ${contentType}: 415, nothing changed`, async () => {
          const before = await snapshot();
          const res = await api.request(method, path, undefined, {
            ...optionsFor('victim'),
            headers: { ...agent, 'content-type': contentType },
            rawBody: 'x=1',
          });
          expectSurfaceOneFailure(res, 415);
          expect(await snapshot()).toEqual(before);
        });
      }
    }
    for (const [label, value] of [
      ['a NUL byte', '%00'],
      ['a lone surrogate', '%ED%A0%80'],
      ['a number too large', '1e400'],
      ['an array', '1&count=2'],
    ] as const) {
      it(`GET users.2fa.events with ${label} in the query: 400 invalid-params`, async () => {
        const res = await api.get(`/api/v1/users.2fa.events?count=${value}`, optionsFor('victim'));
        expectSurfaceOneFailure(res, 400);
      });
    }
  });

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

  it('logged no error and no stack trace for any of it (LOG_LEVEL=error)', () => {
    // The application's log (JSON lines, kept by the test app), and anything else the process wrote.
    expect(t.logs.entries().filter((entry) => entry.level === 'error' || entry.level === 'fatal')).toEqual([]);
    const output = logged.join('') + t.logs.text();
    expect(output).not.toMatch(/\bERROR\b/);
    expect(output).not.toMatch(/^\s+at |\\n\s+at /m);
  });
});
