import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type ApiResponse, uniqueName } from './helpers/api.js';
import { S2Api, s2Error, type S2Tokens } from './helpers/s2.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * Hostile and malformed requests on surface 2 (`/api/auth`, `/api/users/me/sessions`): the
 * counterpart of hostile-input.e2e-spec.ts. Every one must answer a 4xx in Singularity's error
 * shape `{timestamp, status, code, error, message, path}` (never Rocket.Chat's), never a 5xx, never
 * echo a secret, set no cookie, change nothing in the database and send no mail. Each request
 * carries the tokens its route needs, so that only the hostile part stands between it and the
 * handler.
 */

const BODY_LIMIT = 4096;
const SECRET_PASSWORD = 'Hostile-Secret-Pass-7f3a9c';
const SECRET_CODE = '913-577';
const USER_PASSWORD = 'S2-hostile-user-password-4b1e';
/** Something that must never show up in an answer (the user's tokens are added once issued). */
const SECRETS = [SECRET_PASSWORD, SECRET_CODE, '913577', USER_PASSWORD];

/** The error code surface 2 answers for each status a hostile request may get. */
const CODE_OF: Record<number, string> = {
  400: 'INVALID_REQUEST',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

type TokenSet = 'none' | 'access' | 'stepUp' | 'refresh' | 'loginTwoFactor' | 'stepUpTwoFactor';

interface Route {
  method: 'POST' | 'DELETE';
  path: string;
  tokens: TokenSet;
  /** A well-formed body ({} for a route without one; fresh names each call). */
  valid(): Record<string, unknown>;
  /** Where a string is expected, as dotted paths into the body. */
  stringFields?: string[];
  /** TOTP codes: a string, or an integer 0..999999 (as Singularity sends them). */
  totpFields?: string[];
  /** Where an object is expected. */
  objectFields?: string[];
  /** Fields refusing control characters. */
  nameFields?: string[];
  /** A raw body hiding a field in a nested object's `__proto__`. */
  nestedProto?: string;
  /** Takes `?locale=`. */
  locale?: boolean;
}

interface HostileCase {
  name: string;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  query?: string;
  /** The expected status when not 400. */
  status?: number;
}

/** The raw JSON of `body` with an extra key written first (JSON.stringify drops `__proto__`). */
const withRawKey = (key: string, value: unknown, body: Record<string, unknown>): string => {
  const rest = JSON.stringify(body).slice(1);
  return `{${JSON.stringify(key)}:${JSON.stringify(value)}${rest === '}' ? '' : ','}${rest}`;
};

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
  // Longer than any field's maximum (1024 at most), within the body limit: the validation refuses it.
  ['a 2 kB string', `${SECRET_PASSWORD}${'x'.repeat(2048)}`],
  ['a 100 kB string', `${SECRET_PASSWORD}${'x'.repeat(100 * 1024)}`, 413],
];

/** TOTP fields take integers 0..999999: the numbers they must refuse. */
const HOSTILE_TOTP_NUMBERS: Array<[string, unknown]> = [
  ['a negative number', -913577],
  ['a fraction', 1.5],
  ['a 7-digit number', 9135770],
];

/** Values where an object is expected. */
const HOSTILE_OBJECTS: Array<[string, unknown]> = [
  ['a string', SECRET_PASSWORD],
  ['null', null],
  ['an array', [{ browser: 'x' }]],
  ['a number', 1],
  ['a boolean', false],
];

/** `?locale=` values the query validation refuses (the key may be replaced, as for the prototype keys). */
const HOSTILE_QUERIES: Array<[string, string]> = [
  ['a NUL byte', 'locale=de%00'],
  ['an unpaired surrogate', 'locale=%ED%A0%80'],
  ['an encoded lone surrogate', 'locale=%uD800'],
  ['an array', 'locale=de&locale=fr'],
  ['an empty value', 'locale='],
  ['a number', 'locale=913577'],
  ['a boolean', 'locale=true'],
  ['a 10 kB value', `locale=${'x'.repeat(10 * 1024)}`],
  ['a __proto__ key', '__proto__=de'],
  ['a constructor key', 'constructor=de'],
  ['a toString key', 'toString=de'],
  ['a NUL byte in a key', 'lo%00cale=de'],
];

function hostileCases(route: Route): HostileCase[] {
  const valid = route.valid();
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
    { name: 'a valueOf key', rawBody: withRawKey('valueOf', SECRET_CODE, valid) },
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
  for (const field of route.stringFields ?? []) {
    for (const [label, value, status] of HOSTILE_VALUES) {
      cases.push({ name: `${label} in ${field}`, body: setAt(valid, field, value), ...(status ? { status } : {}) });
    }
  }
  for (const field of route.totpFields ?? []) {
    for (const [label, value, status] of HOSTILE_VALUES) {
      // An integer is a valid TOTP code here: the numbers it must refuse are below.
      if (typeof value === 'number') continue;
      cases.push({ name: `${label} in ${field}`, body: setAt(valid, field, value), ...(status ? { status } : {}) });
    }
    for (const [label, value] of HOSTILE_TOTP_NUMBERS) {
      cases.push({ name: `${label} in ${field}`, body: setAt(valid, field, value) });
    }
  }
  for (const field of route.objectFields ?? []) {
    for (const [label, value] of HOSTILE_OBJECTS) {
      cases.push({ name: `${label} as ${field}`, body: setAt(valid, field, value) });
    }
  }
  if (route.nestedProto) cases.push({ name: 'a nested __proto__ key', rawBody: route.nestedProto });
  for (const field of route.nameFields ?? []) {
    for (const [label, name] of [
      ['NUL', 'Eve\u0000Admin'],
      ['an escape sequence', 'Eve\u001b[31mRed'],
      ['a newline', 'Eve\nAdmin: yes'],
      ['a carriage return', 'Eve\r\nSet-Cookie: x=1'],
      ['DEL', 'Eve\u007f'],
    ] as const) {
      cases.push({ name: `control characters in ${field} (${label})`, body: setAt(valid, field, name) });
    }
  }
  if (route.locale) {
    for (const [label, query] of HOSTILE_QUERIES) {
      cases.push({ name: `${label} in the query`, query, body: valid });
    }
  }
  return cases;
}

describe('hostile input (surface 2)', () => {
  let t: TestApp;
  let api: S2Api;
  /** The victim's tokens, all valid: access, refresh, step-up, and the two two-factor tokens of their attempts. */
  const tokens: Record<Exclude<TokenSet, 'none'>, S2Tokens> = {
    access: {},
    stepUp: {},
    refresh: {},
    loginTwoFactor: {},
    stepUpTwoFactor: {},
  };
  let sessionId = '';
  let totpSetupToken = '';
  let mailAfterSetup = 0;
  const email = `${uniqueName('s2hostile')}@example.com`;
  const secrets: string[] = [...SECRETS];

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
    t = await createTestApp({ BODY_LIMIT_BYTES: String(BODY_LIMIT) });
    api = new S2Api(t.baseUrl, 'headers');

    // Seed 001's flow with the tokens in headers: register → verify → login → 2fa/login → step-up → 2fa/step-up.
    const registered = await api.post('/api/auth/register', { email, password: USER_PASSWORD, name: 'Hostile Victim' });
    expect(registered.status).toBe(200);
    const link = new URL(await t.mail.linkFor(email));
    const verified = await new Api(t.baseUrl).post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') });
    expect(verified.status).toBe(200);

    let before = t.mail.messages.length;
    const login = await api.post('/api/auth/login', { email, password: USER_PASSWORD });
    expect(login.status).toBe(200);
    expect(login.body.twoFactorRequired).toBe(true);
    tokens.loginTwoFactor = { twoFactor: login.body.twoFactorAuthenticationToken };
    const loginCode = await t.mail.codeFor(email, { after: before });
    const loggedIn = await api.post('/api/auth/2fa/login', { email: loginCode }, { tokens: tokens.loginTwoFactor });
    expect(loggedIn.status).toBe(200);
    tokens.access = { access: loggedIn.body.accessToken };
    tokens.refresh = { refresh: loggedIn.body.refreshToken };

    before = t.mail.messages.length;
    const stepUp = await api.post('/api/auth/step-up', { password: USER_PASSWORD }, { tokens: tokens.access });
    expect(stepUp.status).toBe(200);
    tokens.stepUpTwoFactor = { ...tokens.access, twoFactor: stepUp.body.twoFactorAuthenticationToken };
    const stepUpCode = await t.mail.codeFor(email, { after: before });
    const steppedUp = await api.post('/api/auth/2fa/step-up', { email: stepUpCode }, { tokens: tokens.stepUpTwoFactor });
    expect(steppedUp.status).toBe(200);
    tokens.stepUp = { ...tokens.access, stepUp: steppedUp.body.stepUpToken };

    const status = await api.get('/api/auth/status', { tokens: tokens.stepUp });
    expect(status.body).toMatchObject({ authenticated: true, stepUp: true });
    sessionId = status.body.sessionId;
    // A real set-up token, so that a POST 2fa/totp/setup body is otherwise well-formed.
    const setup = await api.get('/api/auth/2fa/totp/setup', { tokens: tokens.stepUp });
    expect(setup.status).toBe(200);
    totpSetupToken = setup.body.token;
    secrets.push(
      loggedIn.body.accessToken,
      loggedIn.body.refreshToken,
      steppedUp.body.stepUpToken,
      login.body.twoFactorAuthenticationToken,
      stepUp.body.twoFactorAuthenticationToken,
      totpSetupToken,
      setup.body.secret,
    );
    // Let the last mail (the step-up code) land before counting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await t.mailSettled();
    mailAfterSetup = t.mail.messages.length;
  });
  afterAll(async () => {
    process.stdout.write = originalWrites.out;
    process.stderr.write = originalWrites.err;
    await t?.close();
  });

  /** Every row a request could change, as a digest per table (last_used_at is touched by reads). */
  async function snapshot(): Promise<Record<string, unknown>> {
    const tables: Array<{ name: string }> = await t.db.query(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    const rows: Array<{ name: string; n: number; digest: string }> = await t.db.query(
      tables
        .map(
          ({ name }) =>
            `SELECT '${name}' AS name, count(*)::int AS n, md5(coalesce(string_agg((to_jsonb(x) - 'last_used_at')::text, '|' ORDER BY (to_jsonb(x) - 'last_used_at')::text), '')) AS digest FROM "${name}" x`,
        )
        .join(' UNION ALL '),
    );
    return Object.fromEntries(rows.map(({ name, n, digest }) => [name, { n, digest }]));
  }

  /** A 4xx in exactly surface 2's shape: `status` (default 400) with its code, or any of the listed statuses. */
  function expectSurfaceTwoFailure(res: ApiResponse, path: string, status: number | number[] = 400): void {
    const label = JSON.stringify(res.body)?.slice(0, 300);
    expect(res.status, label).toBeGreaterThanOrEqual(400);
    expect(res.status, label).toBeLessThan(500);
    if (Array.isArray(status)) expect(status, label).toContain(res.status);
    else expect(res.status, label).toBe(status);
    // Exactly Singularity's keys (no `success`, `errorType` or `details` of Rocket.Chat's shape).
    expect(res.body, label).toEqual(s2Error(res.status, CODE_OF[res.status] ?? expect.any(String), path));
    expect(Object.keys(res.body).sort()).toEqual(['code', 'error', 'message', 'path', 'status', 'timestamp']);
    expect(Math.abs(Date.parse(res.body.timestamp) - Date.now())).toBeLessThan(60_000);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    // A refused request neither issues nor clears a token.
    expect(res.headers.getSetCookie()).toEqual([]);
  }

  function expectNoSecrets(res: ApiResponse): void {
    const text = `${JSON.stringify(res.body)}\n${[...res.headers].map(([name, value]) => `${name}: ${value}`).join('\n')}`;
    for (const secret of secrets) expect(text).not.toContain(secret);
    // Nothing submitted comes back at length either.
    expect(JSON.stringify(res.body).length).toBeLessThan(1000);
  }

  const SESSION = { browser: 'Firefox 133', os: 'Linux' };
  const routes: Route[] = [
    {
      method: 'POST',
      path: '/api/auth/register',
      tokens: 'none',
      valid: () => ({ email: `${uniqueName('s2hostile')}@example.com`, password: SECRET_PASSWORD, name: 'Hostile' }),
      stringFields: ['email', 'password', 'name'],
      nameFields: ['name'],
      locale: true,
    },
    {
      method: 'POST',
      path: '/api/auth/login',
      tokens: 'none',
      valid: () => ({ email, password: SECRET_PASSWORD, session: SESSION }),
      stringFields: ['email', 'password', 'session.browser', 'session.os'],
      objectFields: ['session'],
      nameFields: ['session.browser', 'session.os'],
      nestedProto: `{"email":"${email}","password":"${SECRET_PASSWORD}","session":{"__proto__":{"browser":"x"},"os":"Linux"}}`,
      locale: true,
    },
    {
      method: 'POST',
      path: '/api/auth/2fa/login',
      tokens: 'loginTwoFactor',
      valid: () => ({ email: SECRET_CODE, session: SESSION }),
      stringFields: ['email', 'session.browser', 'session.os'],
      totpFields: ['totp'],
      objectFields: ['session'],
      nameFields: ['session.browser'],
      nestedProto: `{"email":"${SECRET_CODE}","session":{"__proto__":{"os":"x"}}}`,
    },
    {
      method: 'POST',
      path: '/api/auth/2fa/totp/recover',
      tokens: 'loginTwoFactor',
      valid: () => ({ code: 'K7M2QX9WRT', session: SESSION }),
      stringFields: ['code', 'session.browser', 'session.os'],
      objectFields: ['session'],
      nameFields: ['session.os'],
      nestedProto: `{"code":"K7M2QX9WRT","session":{"constructor":{"prototype":{"os":"x"}}}}`,
    },
    {
      method: 'POST',
      path: '/api/auth/refresh',
      tokens: 'refresh',
      valid: () => ({ ...SESSION }),
      stringFields: ['browser', 'os'],
      nameFields: ['browser'],
    },
    {
      method: 'POST',
      path: '/api/auth/step-up',
      tokens: 'access',
      valid: () => ({ password: SECRET_PASSWORD }),
      stringFields: ['password'],
      locale: true,
    },
    {
      method: 'POST',
      path: '/api/auth/2fa/step-up',
      tokens: 'stepUpTwoFactor',
      valid: () => ({ email: SECRET_CODE }),
      stringFields: ['email'],
      totpFields: ['totp'],
    },
    {
      method: 'POST',
      path: '/api/auth/2fa/preferred-method',
      tokens: 'stepUp',
      valid: () => ({ method: 'email' }),
      stringFields: ['method'],
    },
    {
      method: 'POST',
      path: '/api/auth/2fa/email/send',
      tokens: 'access',
      valid: () => ({}),
      locale: true,
    },
    {
      method: 'POST',
      path: '/api/auth/2fa/email/enable',
      tokens: 'stepUp',
      valid: () => ({ code: SECRET_CODE }),
      stringFields: ['code'],
      locale: true,
    },
    {
      method: 'DELETE',
      path: '/api/auth/2fa/email',
      tokens: 'stepUp',
      valid: () => ({}),
      locale: true,
    },
    {
      method: 'POST',
      path: '/api/auth/2fa/totp/setup',
      tokens: 'stepUp',
      valid: () => ({ token: totpSetupToken, code: SECRET_CODE }),
      stringFields: ['token'],
      totpFields: ['code'],
      locale: true,
    },
    {
      method: 'DELETE',
      path: '/api/auth/2fa/totp',
      tokens: 'stepUp',
      valid: () => ({}),
      locale: true,
    },
  ];

  const tokensOf = (set: TokenSet): S2Tokens => (set === 'none' ? {} : tokens[set]);

  for (const route of routes) {
    describe(`${route.method} ${route.path}`, () => {
      for (const hostile of hostileCases(route)) {
        it(`${hostile.name}: 4xx in surface 2's shape, nothing echoed, nothing changed, no mail`, async () => {
          const headers: Record<string, string> = {};
          if (hostile.contentType) headers['content-type'] = hostile.contentType;
          const before = await snapshot();
          await t.mailSettled();
          const mailBefore = t.mail.messages.length;

          const res = await api.request(route.method, `${route.path}${hostile.query ? `?${hostile.query}` : ''}`, hostile.body, {
            tokens: tokensOf(route.tokens),
            headers,
            ...(hostile.rawBody !== undefined ? { rawBody: hostile.rawBody } : {}),
          });

          expectSurfaceTwoFailure(res, route.path, hostile.status);
          expectNoSecrets(res);
          expect(await snapshot()).toEqual(before);
          expect(t.mail.messages.length).toBe(mailBefore);
        });
      }
    });
  }

  describe('DELETE /api/users/me/sessions/{id}', () => {
    const path = '/api/users/me/sessions';
    for (const [label, id, status] of [
      // The id goes to a query: a NUL byte must be refused (or not found), never reach PostgreSQL.
      ['a NUL byte', 'abc%00def', [400, 404]],
      // Not valid UTF-8 once decoded: the router refuses it, in surface 2's shape.
      ['an unpaired surrogate', '%ED%A0%80x', [400, 404]],
      // Longer than the router's parameter limit: refused, in surface 2's shape, without echoing the path.
      ['a 10 kB id', `${SECRET_PASSWORD}${'x'.repeat(10 * 1024)}`, [400, 404, 414]],
      ['an encoded path separator', `..%2F..%2F${'x'.repeat(8)}`, [404]],
      ['__proto__', '__proto__', [404]],
      ['constructor', 'constructor', [404]],
      ['toString', 'toString', [404]],
      ['an id longer than any session id', 'x'.repeat(64), [404]],
    ] as const) {
      it(`${label} as the id: ${status.join(' or ')} in surface 2's shape, nothing changed`, async () => {
        const before = await snapshot();
        const res = await api.delete(`${path}/${id}`, { tokens: tokens.access });
        // A path the router itself refuses is reported by the surface's prefix only: it may hold anything.
        expectSurfaceTwoFailure(res, res.body?.path === path ? path : `${path}/${id}`, [...status]);
        expectNoSecrets(res);
        expect(await snapshot()).toEqual(before);
      });
    }
    for (const [label, contentType, rawBody] of [
      ['malformed JSON', 'application/json', '{"id":'],
      ['a JSON array', 'application/json', '[]'],
      ['a __proto__ key', 'application/json', '{"__proto__":{"x":1}}'],
      ['a NUL byte', 'application/json', '{"x":"a\\u0000b"}'],
      ['a text/plain body', 'text/plain', 'x=1'],
      ['a form body', 'application/x-www-form-urlencoded', 'x=1'],
      ['an octet-stream body', 'application/octet-stream', 'x'],
    ] as const) {
      it(`${label} on the caller's own session: 4xx, the session is not ended`, async () => {
        const before = await snapshot();
        const res = await api.delete(`${path}/${sessionId}`, {
          tokens: tokens.access,
          headers: { 'content-type': contentType },
          rawBody,
        });
        expectSurfaceTwoFailure(res, `${path}/${sessionId}`, contentType === 'application/json' ? 400 : 415);
        expect(await snapshot()).toEqual(before);
      });
    }
  });

  describe('routes without a body: anything but JSON is 415', () => {
    for (const [method, path, set] of [
      ['POST', '/api/auth/2fa/email/send', 'access'],
      ['DELETE', '/api/auth/2fa/email', 'stepUp'],
      ['DELETE', '/api/auth/2fa/totp', 'stepUp'],
      ['POST', '/api/auth/logout', 'access'],
      ['DELETE', '/api/users/me/sessions', 'access'],
    ] as const) {
      for (const contentType of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/octet-stream',
        'application/xml',
      ]) {
        it(`${method} ${path} with ${contentType}: 415, nothing changed`, async () => {
          const before = await snapshot();
          const res = await api.request(method, path, undefined, {
            tokens: tokens[set],
            headers: { 'content-type': contentType },
            rawBody: 'x=1',
          });
          expectSurfaceTwoFailure(res, path, 415);
          expect(await snapshot()).toEqual(before);
        });
      }
    }
  });

  describe('a query beyond the HTTP header limit', () => {
    // Node's HTTP parser refuses a request line over its 16 kB header limit before the router has
    // a path to choose a surface by: Fastify's client-error answer, 431, is all that can come back.
    it('a 100 kB ?locale= answers 431 (not 5xx), echoes nothing and changes nothing', async () => {
      const before = await snapshot();
      const res = await api.post(
        `/api/auth/step-up?locale=${SECRET_PASSWORD}${'x'.repeat(100 * 1024)}`,
        { password: USER_PASSWORD },
        { tokens: tokens.access },
      );
      expect(res.status).toBe(431);
      expectNoSecrets(res);
      expect(await snapshot()).toEqual(before);
    });
  });

  it('the tokens still work afterwards (nothing above ended or rotated anything)', async () => {
    const status = await api.get('/api/auth/status', { tokens: tokens.stepUp });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ authenticated: true, stepUp: true, sessionId, twoFactorMethods: ['email'] });
    const sessions = await api.get('/api/users/me/sessions', { tokens: tokens.access });
    expect(sessions.status).toBe(200);
    expect(sessions.body.map((session: { id: string }) => session.id)).toContain(sessionId);
  });

  describe('unknown routes', () => {
    for (const [method, path] of [
      ['GET', '/api/auth/nope'],
      ['POST', '/api/auth/nope'],
      ['DELETE', '/api/auth/login'],
      ['GET', '/api/auth/login'],
      ['PUT', '/api/auth/2fa/email/enable'],
      ['GET', '/api/auth/2fa/nope/deeper'],
      ['GET', '/api/users/me/sessions/abc/def'],
      ['POST', '/api/users/me/sessions'],
    ] as const) {
      it(`${method} ${path} answers 404 in surface 2's shape`, async () => {
        const res = await api.request(method, path);
        expectSurfaceTwoFailure(res, path, 404);
      });
    }
    for (const [label, path] of [
      ['a NUL byte', '/api/auth/status%00'],
      ['bytes that are not UTF-8 once decoded', '/api/auth/%ED%A0%80'],
    ] as const) {
      it(`GET ${path} (${label}) answers 400 or 404 in surface 2's shape`, async () => {
        const res = await api.get(path, { tokens: tokens.access });
        expectSurfaceTwoFailure(res, res.body?.path === '/api/auth' ? '/api/auth' : path, [400, 404]);
      });
    }
    it("a query on an unknown surface-2 route is not part of the error's path", async () => {
      const res = await api.get(`/api/auth/nope?password=${SECRET_PASSWORD}`);
      expectSurfaceTwoFailure(res, '/api/auth/nope', 404);
      expectNoSecrets(res);
    });
    for (const [method, path] of [
      ['GET', '/api/v1/no.such.endpoint'],
      ['DELETE', '/api/v1/login'],
      ['GET', '/api/authx'],
      ['GET', '/api/users/me'],
      ['GET', '/api/users/me/sessionsx'],
    ] as const) {
      it(`${method} ${path} still answers 404 in surface 1's shape`, async () => {
        const res = await api.request(method, path);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ success: false, errorType: 'error-not-found', error: 'Not found [error-not-found]' });
      });
    }
  });

  it('sent no mail at all while the hostile requests ran', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(mailAfterSetup).toBeGreaterThanOrEqual(3);
    expect(t.mail.messages.length).toBe(mailAfterSetup);
  });

  // Run last but one: these reach the handlers, and change things.
  describe('control: the well-formed requests pass validation, so each refusal above was the hostile part', () => {
    /** What each handler answers to the well-formed body (never INVALID_REQUEST). */
    const ANSWERS: Record<string, { status: number; code?: string }> = {
      'POST /api/auth/register': { status: 200 },
      'POST /api/auth/login': { status: 401, code: 'INVALID_CREDENTIALS' },
      'POST /api/auth/2fa/login': { status: 401, code: 'TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID' },
      'POST /api/auth/2fa/totp/recover': { status: 401, code: 'TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID' },
      'POST /api/auth/refresh': { status: 200 },
      'POST /api/auth/step-up': { status: 401, code: 'INVALID_CREDENTIALS' },
      'POST /api/auth/2fa/step-up': { status: 401, code: 'TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID' },
      'POST /api/auth/2fa/preferred-method': { status: 200 },
      'POST /api/auth/2fa/email/send': { status: 200 },
      'POST /api/auth/2fa/email/enable': { status: 304 },
      'DELETE /api/auth/2fa/email': { status: 400, code: 'CANNOT_DISABLE_ONLY_TWO_FACTOR_METHOD' },
      'POST /api/auth/2fa/totp/setup': { status: 401, code: 'WRONG_TWO_FACTOR_CODE' },
      'DELETE /api/auth/2fa/totp': { status: 304 },
    };
    it("every route answers its handler's answer to the well-formed body and ?locale=de", async () => {
      expect(Object.keys(ANSWERS).sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
      const before = await snapshot();
      const mailBefore = t.mail.messages.length;
      for (const route of routes) {
        const label = `${route.method} ${route.path}`;
        const res = await api.request(route.method, `${route.path}${route.locale ? '?locale=de' : ''}`, route.valid(), {
          tokens: tokensOf(route.tokens),
        });
        const expected = ANSWERS[label]!;
        expect(res.status, `${label}: ${JSON.stringify(res.body)}`).toBe(expected.status);
        if (expected.code) expect(res.body, label).toEqual(s2Error(expected.status, expected.code, route.path));
      }
      // The checks above would have seen it: these requests changed rows and sent mail (the code, the verification).
      expect(await snapshot()).not.toEqual(before);
      await t.mail.waitFor((mail) => mail.to.includes(email), { after: mailBefore });
      expect(t.mail.messages.length).toBeGreaterThan(mailBefore);
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
