import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordService } from '../src/auth/password.service.js';
import {
  Api,
  type Credentials,
  loginWithEmailCode,
  registerVerifiedUser,
  sha256,
  type TestUser,
  uniqueName,
} from './helpers/api.js';
import type { LogEntry } from './helpers/log-capture.js';
import { S2Api } from './helpers/s2.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PASSWORD = 'correct horse battery staple';

/** Every field an access line may have: nothing of the request's headers or body. */
const ACCESS_FIELDS = ['level', 'time', 'pid', 'hostname', 'reqId', 'method', 'status', 'durationMs', 'route', 'userId', 'msg'];

describe('request logging: access lines and request ids', () => {
  let t: TestApp;
  let api: Api;
  let user: TestUser;
  let auth: Credentials;

  beforeAll(async () => {
    t = await createTestApp({ LOG_LEVEL: 'log', BODY_LIMIT_BYTES: '2048' });
    api = new Api(t.baseUrl);
    user = await registerVerifiedUser(api, t);
    auth = await loginWithEmailCode(api, t, user);
  });
  afterAll(async () => t?.close());

  /** The access line of the request that answered with this X-Request-Id. */
  const accessLineOf = (reqId: string | null): Promise<LogEntry> => {
    expect(reqId).toBeTruthy();
    return t.logs.waitFor((entry) => entry.reqId === reqId && entry.msg === 'request completed');
  };

  describe('the access line', () => {
    it('names method, route, status, duration, request id and the authenticated user, nothing of headers or body', async () => {
      const res = await api.get('/api/v1/me?fields=secret-query-value', { auth });
      expect(res.status).toBe(200);
      const line = await accessLineOf(res.headers.get('x-request-id'));
      expect(line).toEqual({
        level: 'info',
        time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        pid: process.pid,
        hostname: expect.any(String),
        reqId: res.headers.get('x-request-id'),
        method: 'GET',
        route: '/api/v1/me',
        status: 200,
        durationMs: expect.any(Number),
        userId: auth.userId,
        msg: 'request completed',
      });
      expect(line.durationMs).toBeGreaterThanOrEqual(0);
      expect(line.durationMs).toBeLessThan(10_000);
      const text = t.logs.text();
      expect(text).not.toContain('secret-query-value');
      expect(text).not.toContain(auth.authToken);
    });

    it('has no user id when the caller is not authenticated (or failed to be)', async () => {
      const anonymous = await api.post('/api/v1/login', { user: user.username, password: 'wrong password' });
      expect(anonymous.status).toBe(401);
      const anonymousLine = await accessLineOf(anonymous.headers.get('x-request-id'));
      expect(anonymousLine).toMatchObject({ method: 'POST', route: '/api/v1/login', status: 401, level: 'info' });
      expect(anonymousLine).not.toHaveProperty('userId');

      const wrongToken = await api.get('/api/v1/me', { auth: { userId: auth.userId, authToken: 'not-the-token' } });
      expect(wrongToken.status).toBe(401);
      const wrongTokenLine = await accessLineOf(wrongToken.headers.get('x-request-id'));
      expect(wrongTokenLine).toMatchObject({ route: '/api/v1/me', status: 401 });
      expect(wrongTokenLine).not.toHaveProperty('userId');
      expect(Object.keys(wrongTokenLine).every((key) => ACCESS_FIELDS.includes(key))).toBe(true);
    });

    it("gives surface 2's route template with :id, never the id, and the session's user", async () => {
      const s2 = new S2Api(t.baseUrl, 'headers');
      const email = `${uniqueName('rl')}@example.com`;
      expect((await s2.post('/api/auth/register', { email, password: PASSWORD, name: 'Req Log' })).status).toBe(200);
      const link = new URL(await t.mail.linkFor(email));
      expect((await s2.post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') })).status).toBe(200);
      const before = t.mail.messages.length;
      const started = await s2.post('/api/auth/login', { email, password: PASSWORD });
      const code = await t.mail.codeFor(email, { after: before });
      const loggedIn = await s2.post(
        '/api/auth/2fa/login',
        { email: code.replace('-', '') },
        { tokens: { twoFactor: started.body.twoFactorAuthenticationToken } },
      );
      expect(loggedIn.status).toBe(200);
      const access = loggedIn.body.accessToken as string;
      const sessions = await s2.get('/api/users/me/sessions', { tokens: { access } });
      const sessionId = sessions.body[0].id as string;

      const unknown = await s2.delete('/api/users/me/sessions/NoSuchSession0000', { tokens: { access } });
      expect(unknown.status).toBe(404);
      const unknownLine = await accessLineOf(unknown.headers.get('x-request-id'));
      expect(unknownLine).toMatchObject({ method: 'DELETE', route: '/api/users/me/sessions/:id', status: 404 });
      expect(unknownLine.userId).toEqual(expect.any(String));

      const revoked = await s2.delete(`/api/users/me/sessions/${sessionId}`, { tokens: { access } });
      expect(revoked.status).toBe(200);
      const revokedLine = await accessLineOf(revoked.headers.get('x-request-id'));
      expect(revokedLine).toMatchObject({ route: '/api/users/me/sessions/:id', status: 200, userId: unknownLine.userId });
      expect(t.logs.text()).not.toContain(sessionId);
      expect(t.logs.text()).not.toContain('NoSuchSession0000');
    });

    it('has no route for a path no route matches, and does not repeat the path', async () => {
      const res = await api.get('/api/v1/no.such.route/pasted-token-abcdef?token=x');
      expect(res.status).toBe(404);
      const line = await accessLineOf(res.headers.get('x-request-id'));
      expect(line).toMatchObject({ method: 'GET', status: 404, msg: 'request completed' });
      expect(line).not.toHaveProperty('route');
      expect(t.logs.text()).not.toContain('pasted-token-abcdef');
    });

    it('says when the client went away before the answer', async () => {
      const { hostname, port } = new URL(t.baseUrl);
      await new Promise<void>((resolve) => {
        const request = http.request({
          host: hostname,
          port,
          method: 'POST',
          path: '/api/v1/login',
          headers: { 'content-type': 'application/json', 'content-length': 100, 'x-request-id': 'gone-early' },
        });
        request.on('error', () => resolve());
        request.flushHeaders();
        request.write('{"user":');
        setTimeout(() => {
          request.destroy();
          resolve();
        }, 100);
      });
      const line = await t.logs.waitFor((entry) => entry.reqId === 'gone-early');
      expect(line).toMatchObject({
        msg: 'request aborted',
        aborted: true,
        method: 'POST',
        route: '/api/v1/login',
        level: 'info',
      });
    });

    it('logs successful health probes at debug only (LOG_LEVEL=log shows none)', async () => {
      const res = await api.get('/health/live');
      expect(res.status).toBe(200);
      // A request after it: its line being there means the probe's would be too.
      const after = await api.get('/api/v1/me', { auth });
      await accessLineOf(after.headers.get('x-request-id'));
      expect(t.logs.entries().some((entry) => entry.reqId === res.headers.get('x-request-id'))).toBe(false);
    });
  });

  describe('X-Request-Id', () => {
    it('takes a sane id from the request and echoes it', async () => {
      for (const id of ['abc', 'req-2024.01:node_7', 'A'.repeat(128), '0f8fad5b-d9cb-469f-a165-70867728950e']) {
        const res = await api.get('/api/v1/me', { auth, headers: { 'x-request-id': id } });
        expect(res.headers.get('x-request-id'), id).toBe(id);
        await expect(accessLineOf(id)).resolves.toMatchObject({ route: '/api/v1/me', status: 200 });
      }
    });

    it('replaces an insane one (too long, spaces, tabs, other characters, empty) with a new UUID', async () => {
      const insane = [
        'A'.repeat(129),
        'has space',
        'tab\there',
        'quote"d',
        '<script>',
        'semi;colon',
        'comma,list',
        'ünïcode',
        '',
      ];
      const seen = new Set<string>();
      for (const id of insane) {
        const res = await api.get('/api/v1/me', { auth, headers: { 'x-request-id': id } });
        const echoed = res.headers.get('x-request-id')!;
        expect(echoed, JSON.stringify(id)).toMatch(UUID);
        seen.add(echoed);
        await expect(accessLineOf(echoed)).resolves.toMatchObject({ route: '/api/v1/me' });
      }
      expect(seen.size).toBe(insane.length);
      const text = t.logs.text();
      expect(text).not.toContain('A'.repeat(129));
      expect(text).not.toContain('<script>');
    });

    it('is echoed on 4xx API errors of both surfaces, 404, and refusals of the body parser (415, 400, 413)', async () => {
      const id = (label: string) => `case-${label}`;
      const cases: Array<[string, () => Promise<{ status: number; headers: Headers }>, number]> = [
        ['v1-401', () => api.get('/api/v1/me', { headers: { 'x-request-id': id('v1-401') } }), 401],
        ['v1-400', () => api.post('/api/v1/users.register', { username: 1 }, { headers: { 'x-request-id': id('v1-400') } }), 400],
        [
          's2-401',
          () => new S2Api(t.baseUrl, 'headers').get('/api/users/me/sessions', { headers: { 'x-request-id': id('s2-401') } }),
          401,
        ],
        ['404', () => api.get('/nowhere', { headers: { 'x-request-id': id('404') } }), 404],
        [
          '415-form',
          () =>
            api.post('/api/v1/login', undefined, {
              rawBody: 'user=a&password=b',
              headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': id('415-form') },
            }),
          415,
        ],
        [
          '415-text',
          () =>
            api.post('/api/v1/login', undefined, {
              rawBody: 'hi',
              headers: { 'content-type': 'text/plain', 'x-request-id': id('415-text') },
            }),
          415,
        ],
        [
          '400-json',
          () => api.post('/api/v1/login', undefined, { rawBody: '{"user":', headers: { 'x-request-id': id('400-json') } }),
          400,
        ],
        [
          '400-proto',
          () =>
            api.post('/api/v1/login', undefined, { rawBody: '{"__proto__":{}}', headers: { 'x-request-id': id('400-proto') } }),
          400,
        ],
        [
          '413',
          () => api.post('/api/v1/login', { user: 'x'.repeat(4096), password: 'p' }, { headers: { 'x-request-id': id('413') } }),
          413,
        ],
        [
          's2-400-json',
          () =>
            new S2Api(t.baseUrl, 'headers').post('/api/auth/login', undefined, {
              rawBody: '[1]',
              headers: { 'x-request-id': id('s2-400-json') },
            }),
          400,
        ],
      ];
      for (const [label, call, status] of cases) {
        const res = await call();
        expect(res.status, label).toBe(status);
        expect(res.headers.get('x-request-id'), label).toBe(id(label));
        await expect(accessLineOf(id(label))).resolves.toMatchObject({ status });
      }
    });

    it("is echoed on Fastify's own refusal of a malformed path (no hook runs for it), with an access line", async () => {
      for (const [method, path, label] of [
        ['GET', '/api/v1/%E0%A4%A', 'bad-url-v1'],
        ['GET', '/api/auth/%E0%A4%A', 'bad-url-s2'],
        ['DELETE', `/api/users/me/sessions/${'x'.repeat(200)}`, 'too-long-param'],
      ] as const) {
        const res = await api.request(method, path, undefined, { headers: { 'x-request-id': label } });
        expect(res.status, label).toBeGreaterThanOrEqual(400);
        expect(res.status, label).toBeLessThan(500);
        expect(res.headers.get('x-request-id'), label).toBe(label);
        const line = await accessLineOf(label);
        expect(line).toMatchObject({ method, status: res.status });
        expect(line).not.toHaveProperty('route');
      }
    });
  });

  describe('the error line of a server failure', () => {
    /** The password check fails the way a library does: quoting the value it choked on, carrying it in a field. */
    async function failingPasswordCheck<T>(work: () => Promise<T>): Promise<T> {
      const passwords = t.app.get(PasswordService, { strict: false });
      const original = passwords.verifyDigest.bind(passwords);
      passwords.verifyDigest = (_hash: string | null, digest: string) => {
        const error = new Error(`invalid input syntax for type uuid: "${digest}" (${PASSWORD})`);
        Object.assign(error, { parameters: [PASSWORD, digest], query: 'SELECT secret' });
        return Promise.reject(error);
      };
      try {
        return await work();
      } finally {
        passwords.verifyDigest = original;
      }
    }

    it('carries the request id, the route template and the stack, never the secrets in the failure', async () => {
      const v1 = await failingPasswordCheck(() =>
        api.post('/api/v1/login', { user: user.username, password: PASSWORD }, { headers: { 'x-request-id': 'fail-v1' } }),
      );
      expect(v1.status).toBe(500);
      expect(v1.headers.get('x-request-id')).toBe('fail-v1');
      const s2 = await failingPasswordCheck(() =>
        new S2Api(t.baseUrl, 'headers').post(
          '/api/auth/login',
          { email: user.email, password: PASSWORD },
          { headers: { 'x-request-id': 'fail-s2' } },
        ),
      );
      expect(s2.status).toBe(500);
      expect(s2.headers.get('x-request-id')).toBe('fail-s2');

      for (const [reqId, context, route] of [
        ['fail-v1', 'V1', '/api/v1/login'],
        ['fail-s2', 'Auth', '/api/auth/login'],
      ] as const) {
        const errorLine = await t.logs.waitFor(
          (entry) => entry.reqId === reqId && entry.level === 'error' && entry.context === context,
        );
        expect(errorLine.msg).toBe(`POST ${route} failed (INTERNAL)`);
        const err = errorLine.err as { type: string; message: string; stack: string };
        expect(err.stack).toMatch(/^Error: invalid input syntax for type uuid: "\[Redacted\]"/);
        expect(err.stack).toMatch(/\n\s+at /);
        expect(errorLine).not.toHaveProperty('parameters');
        await expect(accessLineOf(reqId)).resolves.toMatchObject({ route, status: 500, level: 'error' });
      }
      const text = t.logs.text();
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(sha256(PASSWORD));
      expect(text).not.toContain('SELECT secret');
    });

    it('keeps the request id when the body arrives after the headers (read outside the request context)', async () => {
      const { hostname, port } = new URL(t.baseUrl);
      const body = JSON.stringify({ user: user.username, password: PASSWORD });
      const answer = await failingPasswordCheck(
        () =>
          new Promise<{ status: number; id: string | undefined }>((resolve, reject) => {
            const request = http.request(
              {
                host: hostname,
                port,
                method: 'POST',
                path: '/api/v1/login',
                headers: {
                  'content-type': 'application/json',
                  'content-length': Buffer.byteLength(body),
                  'x-request-id': 'slow-body',
                },
              },
              (response) => {
                response.resume();
                resolve({ status: response.statusCode ?? 0, id: response.headers['x-request-id'] as string | undefined });
              },
            );
            request.on('error', reject);
            request.flushHeaders();
            request.write(body.slice(0, 5));
            setTimeout(() => request.end(body.slice(5)), 150);
          }),
      );
      expect(answer).toEqual({ status: 500, id: 'slow-body' });
      const errorLine = await t.logs.waitFor(
        (entry) =>
          entry.level === 'error' &&
          entry.context === 'V1' &&
          entry.msg === 'POST /api/v1/login failed (INTERNAL)' &&
          entry.reqId === 'slow-body',
        2000,
      );
      expect(errorLine.reqId).toBe('slow-body');
    });
  });

  it('wrote JSON objects only, one per line', () => {
    const entries = t.logs.entries();
    expect(entries.length).toBeGreaterThan(20);
    for (const entry of entries) expect(typeof entry.level).toBe('string');
  });
});
