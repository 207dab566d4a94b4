import { randomBytes } from 'node:crypto';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V1ApiModule } from '../src/api/v1/v1-api.module.js';
import { V1_HANDSHAKE_IN_HANDLER } from '../src/api/v1/v1-auth.guard.js';
import { AUTHENTICATED_ROUTE } from '../src/rate-limit/rate-limit.guard.js';
import { REQUIRES_2FA } from '../src/two-factor/two-factor.types.js';
import { Api, type ApiResponse, registerVerifiedUser, uniqueName } from './helpers/api.js';
import { DocumentedAnswers } from './helpers/openapi-validator.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

type Json = any;

interface V1Route {
  method: string;
  path: string;
  authenticated: boolean;
  twoFactor: boolean;
}

/** Surface 1's routes as the controllers declare them (path, method, @V1Authenticated, @Requires2FA). */
function declaredV1Routes(): V1Route[] {
  const controllers: Array<new (...args: never[]) => object> = Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, V1ApiModule);
  return controllers
    .flatMap((controller) => {
      const base = String(Reflect.getMetadata(PATH_METADATA, controller));
      const prototype = controller.prototype as Record<string, unknown>;
      return Object.getOwnPropertyNames(prototype).flatMap((name) => {
        const handler = prototype[name];
        if (typeof handler !== 'function' || name === 'constructor') return [];
        const path: unknown = Reflect.getMetadata(PATH_METADATA, handler);
        if (typeof path !== 'string') return [];
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod].toLowerCase();
        return [
          {
            method,
            path: `/${base}/${path}`,
            authenticated: Reflect.getMetadata(AUTHENTICATED_ROUTE, handler) === true,
            // Through the guard, or run by the handler itself (sensitive changes: never remembered).
            twoFactor:
              Reflect.getMetadata(REQUIRES_2FA, handler) !== undefined ||
              Reflect.getMetadata(V1_HANDSHAKE_IN_HANDLER, handler) === true,
          },
        ];
      });
    })
    .filter((route) => route.path.startsWith('/api/v1/'));
}

/** `printRoutes` lists one route per line as `/path (METHOD, …)`; HEAD is Fastify's automatic twin of GET. */
function registeredV1Routes(t: TestApp): string[] {
  const tree = t.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false });
  return [...tree.matchAll(/(\/api\/v1\/\S+) \(([A-Z, ]+)\)/g)].flatMap(([, path, methods]) =>
    methods
      .split(', ')
      .filter((method) => method !== 'HEAD')
      .map((method) => `${method.toLowerCase()} ${path}`),
  );
}

/** Every string anywhere in the document. */
function* strings(value: Json): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* strings(item);
  else if (value && typeof value === 'object') for (const [key, item] of Object.entries(value)) yield* [key, ...strings(item)];
}

/** A 64-hex string made of one short block repeated is an obvious placeholder; anything else may be a real secret. */
const isObviousPlaceholder = (hex: string): boolean => /^(.{1,16})\1+$/.test(hex);

/** A run of 32+ base64url characters mixing lower case, upper case and digits, as the service's random tokens look. */
const RANDOM_LOOKING = /(?<![\w-])(?=[\w-]*[a-z])(?=[\w-]*[A-Z])(?=[\w-]*\d)[\w-]{32,}/g;

// Each route with a JSON body: its fields and which of them are required.
const BODIES: Record<string, { fields: string[]; required: string[] }> = {
  // `password` is optional: `{resume}` logs in without one.
  'post /api/v1/login': { fields: ['user', 'username', 'email', 'password', 'code', 'resume'], required: [] },
  'post /api/v1/users.register': {
    fields: ['username', 'email', 'pass', 'name'],
    required: ['username', 'email', 'pass', 'name'],
  },
  'post /api/v1/users.sendConfirmationEmail': { fields: ['email'], required: ['email'] },
  'post /api/v1/users.verifyEmail': { fields: ['token'], required: ['token'] },
  'post /api/v1/users.create': {
    fields: ['email', 'name', 'password', 'username', 'verified', 'roles'],
    required: ['email', 'name', 'password', 'username'],
  },
  'post /api/v1/users.updateOwnBasicInfo': { fields: ['data'], required: ['data'] },
  'post /api/v1/users.generatePersonalAccessToken': { fields: ['tokenName', 'bypassTwoFactor'], required: ['tokenName'] },
  'post /api/v1/users.regeneratePersonalAccessToken': { fields: ['tokenName'], required: ['tokenName'] },
  'post /api/v1/users.removePersonalAccessToken': { fields: ['tokenName'], required: ['tokenName'] },
  'post /api/v1/users.deleteOwnAccount': { fields: ['password'], required: [] },
  'post /api/v1/users.2fa.unlock': { fields: ['userId'], required: ['userId'] },
  'post /api/v1/users.2fa.validateTOTP': { fields: ['code'], required: ['code'] },
  'post /api/v1/users.2fa.sendEmailCode': { fields: ['emailOrUsername'], required: ['emailOrUsername'] },
  'post /api/v1/twoFactorChallenges.sendEmailCode': { fields: ['challengeId'], required: ['challengeId'] },
  'post /api/v1/twoFactorChallenges.verifyChallenge': { fields: ['challengeId', 'code'], required: ['challengeId', 'code'] },
};

describe('OpenAPI document (GET /api/openapi.json)', () => {
  let t: TestApp;
  let api: Api;
  let doc: Json;
  let answers: DocumentedAnswers;
  const routes = declaredV1Routes();

  /** A real answer, checked against the documented status and schema. */
  const expectDocumentedAnswer = (route: string, res: ApiResponse) => {
    expect(answers.problems(route, res), `${route} → ${res.status} ${JSON.stringify(res.body)}`).toEqual([]);
  };
  const schemaName = (schema: Json): string | undefined => schema?.$ref?.replace('#/components/schemas/', '');

  const operation = (route: { method: string; path: string }): Json => doc.paths[route.path]?.[route.method];
  const schemaOf = (schema: Json): Json => {
    const ref: string | undefined = schema?.$ref;
    return ref ? doc.components.schemas[ref.replace('#/components/schemas/', '')] : schema;
  };
  const headerNames = (op: Json): string[] =>
    (op.parameters ?? [])
      .filter((parameter: Json) => parameter.in === 'header')
      .map((parameter: Json) => parameter.name.toLowerCase());
  const examplesOf = (op: Json, status: number): Record<string, Json> => {
    const examples = op.responses[String(status)]?.content?.['application/json']?.examples ?? {};
    return Object.fromEntries(Object.entries(examples).map(([name, example]) => [name, (example as Json).value]));
  };

  beforeAll(async () => {
    t = await createTestApp();
    api = new Api(t.baseUrl);
    const res = await api.get('/api/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
    answers = new DocumentedAnswers(doc);
  });
  afterAll(async () => t?.close());

  it('is an OpenAPI 3 document whose description explains the handshake and points at the README', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Two-factor authentication service');
    expect(doc.info.description).toContain('totp-required');
    expect(doc.info.description).toContain('x-2fa-code');
    expect(doc.info.description).toContain('x-2fa-method');
    expect(doc.info.description).toContain('README');
  });

  it('documents every /api/v1 route the app serves, with its method, and no other', () => {
    const registered = registeredV1Routes(t).sort();
    const declared = routes.map((route) => `${route.method} ${route.path}`).sort();
    // The controllers' metadata and the server agree, and the list is the full surface.
    expect(declared).toEqual(registered);
    expect(registered).toHaveLength(25);
    expect(registered).toEqual(
      expect.arrayContaining(['post /api/v1/login', 'get /api/v1/me', 'get /api/v1/users.2fa.backupCodesRemaining']),
    );

    const documented = Object.entries(doc.paths as Record<string, Json>)
      .filter(([path]) => path.startsWith('/api/v1/'))
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .sort();
    expect(documented).toEqual(registered);
  });

  it('gives every route a summary, a 200 example and the 429 rate-limit answer with its headers', () => {
    for (const route of routes) {
      const op = operation(route);
      const label = `${route.method} ${route.path}`;
      expect(op.summary, label).toMatch(/\w{3}/);
      expect(op.responses['200']?.content?.['application/json']?.example, label).toEqual(expect.any(Object));
      expect(examplesOf(op, 429), label).toEqual({
        'error-too-many-requests': {
          success: false,
          error: expect.stringMatching(
            /^Error, too many requests\. Please slow down\. You must wait \d+ seconds .*\[error-too-many-requests\]$/,
          ),
        },
      });
      expect(Object.keys(op.responses['429'].headers ?? {}).sort(), label).toEqual([
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ]);
    }
  });

  it('types every response with a schema (a success DTO for 200, one of the three error shapes otherwise), and every example fits it', () => {
    const ERROR_SHAPES = ['V1ErrorResponseDto', 'V1UnauthorizedResponseDto', 'V1LoginErrorResponseDto'];
    let examples = 0;
    for (const route of routes) {
      const op = operation(route);
      const label = `${route.method} ${route.path}`;
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        const content = response.content?.['application/json'];
        const name = schemaName(content?.schema);
        expect(doc.components.schemas[name ?? ''], `${label} ${status} names a schema of the document`).toMatchObject({
          type: 'object',
        });
        if (status === '200') expect(name, label).toMatch(/^V1\w+ResponseDto$/);
        else if (status === '401')
          expect(name, label).toBe(route.path === '/api/v1/login' ? 'V1LoginErrorResponseDto' : 'V1UnauthorizedResponseDto');
        else expect(name, `${label} ${status}`).toBe('V1ErrorResponseDto');
        expect(ERROR_SHAPES.includes(name!) || status === '200', `${label} ${status}`).toBe(true);
        const bodies = [
          ...(content.example !== undefined ? [content.example] : []),
          ...Object.values(content.examples ?? {}).map((example) => (example as Json).value),
        ];
        expect(bodies.length, `${label} ${status} has an example`).toBeGreaterThan(0);
        for (const body of bodies) {
          examples++;
          expect(answers.problems(label, { status: Number(status), body }), `${label} ${status} example`).toEqual([]);
        }
      }
    }
    expect(examples).toBeGreaterThan(100);
    // The schemas are strict enough to catch a wrong body: the validator is not a rubber stamp.
    expect(answers.problems('get /api/v1/me', { status: 200, body: { success: true } }).length).toBeGreaterThan(0);
    expect(answers.problems('get /api/v1/me', { status: 401, body: { success: false, error: 'x' } }).length).toBeGreaterThan(0);
    expect(answers.problems('post /api/v1/users.register', { status: 200, body: { success: false } }).length).toBeGreaterThan(0);
    expect(answers.problems('get /api/v1/me', { status: 418, body: {} })).toEqual([
      'get /api/v1/me answered 418, which is not documented',
    ]);
  });

  it('describes each request body with its fields (type, description, example) and required ones', () => {
    const posts = routes.filter((route) => route.method === 'post').map((route) => `${route.method} ${route.path}`);
    for (const label of posts) {
      const [method, path] = label.split(' ');
      const requestBody = operation({ method, path }).requestBody;
      const expected = BODIES[label];
      if (!expected) {
        expect(requestBody, `${label} takes no body`).toBeUndefined();
        continue;
      }
      const schema = schemaOf(requestBody?.content?.['application/json']?.schema);
      expect(Object.keys(schema?.properties ?? {}).sort(), label).toEqual([...expected.fields].sort());
      expect([...(schema.required ?? [])].sort(), label).toEqual([...expected.required].sort());
      for (const [field, property] of Object.entries(schema.properties as Record<string, Json>)) {
        if (property.$ref || property.allOf) continue; // a nested DTO, checked below
        // A field Rocket.Chat takes in several shapes (login's user and password) types each shape.
        const types: unknown[] = property.oneOf ? property.oneOf.map((shape: Json) => shape.type) : [property.type];
        for (const type of types) expect(type, `${label} ${field}`).toEqual(expect.any(String));
        expect(property.description, `${label} ${field}`).toMatch(/\w/);
        expect(property.example, `${label} ${field}`).toBeDefined();
      }
    }

    const register = schemaOf(
      operation({ method: 'post', path: '/api/v1/users.register' }).requestBody.content['application/json'].schema,
    );
    expect(register.properties.pass).toMatchObject({ type: 'string', maxLength: 1024 });
    const verify = schemaOf(
      operation({ method: 'post', path: '/api/v1/twoFactorChallenges.verifyChallenge' }).requestBody.content['application/json']
        .schema,
    );
    expect(verify.properties.challengeId).toMatchObject({ type: 'string', maxLength: 128 });
    expect(verify.properties.code).toMatchObject({ type: 'string', example: '123456' });

    // updateOwnBasicInfo nests its fields under `data`.
    const basicInfo = schemaOf(
      operation({ method: 'post', path: '/api/v1/users.updateOwnBasicInfo' }).requestBody.content['application/json'].schema,
    );
    const data = schemaOf(basicInfo.properties.data.allOf?.[0] ?? basicInfo.properties.data);
    expect(Object.keys(data.properties).sort()).toEqual(['currentPassword', 'email', 'name', 'newPassword', 'username']);
    expect(data.required ?? []).toEqual([]);
  });

  it('documents the query parameters of users.2fa.events and users.register', () => {
    const events = operation({ method: 'get', path: '/api/v1/users.2fa.events' });
    const query = (op: Json) => op.parameters.filter((parameter: Json) => parameter.in === 'query');
    expect(query(events)).toEqual([
      expect.objectContaining({
        name: 'count',
        required: false,
        schema: expect.objectContaining({ type: 'integer', minimum: 1, maximum: 100 }),
      }),
      expect.objectContaining({
        name: 'offset',
        required: false,
        schema: expect.objectContaining({ type: 'integer', minimum: 0 }),
      }),
    ]);
    expect(query(operation({ method: 'post', path: '/api/v1/users.register' }))).toEqual([
      expect.objectContaining({ name: 'locale', required: false }),
    ]);
  });

  it('has X-User-Id and X-Auth-Token as header API keys, required together on authenticated routes only, with the 401 answer', () => {
    const schemes = doc.components.securitySchemes;
    const schemeFor = (header: string) =>
      Object.keys(schemes).find(
        (name) => schemes[name].type === 'apiKey' && schemes[name].in === 'header' && schemes[name].name === header,
      );
    const userId = schemeFor('X-User-Id');
    const authToken = schemeFor('X-Auth-Token');
    expect(userId).toEqual(expect.any(String));
    expect(authToken).toEqual(expect.any(String));
    expect(routes.filter((route) => route.authenticated).length).toBeGreaterThan(10);
    for (const route of routes) {
      const op = operation(route);
      const label = `${route.method} ${route.path}`;
      // The credentials are security schemes, not header parameters as well (a client would be asked twice).
      expect(headerNames(op), label).not.toContain('x-user-id');
      expect(headerNames(op), label).not.toContain('x-auth-token');
      if (route.authenticated) {
        // One requirement naming both: OpenAPI needs every scheme within a requirement (AND).
        expect(op.security, label).toEqual([{ [userId!]: [], [authToken!]: [] }]);
        expect(examplesOf(op, 401), label).toEqual({
          unauthorized: { status: 'error', message: 'You must be logged in to do this.' },
        });
        expect(schemaName(op.responses['401'].content['application/json'].schema), label).toBe('V1UnauthorizedResponseDto');
      } else {
        // A public route says it needs nothing (an empty list), rather than leaving it unsaid.
        expect(op.security, label).toEqual([]);
        if (route.path !== '/api/v1/login') expect(op.responses['401'], label).toBeUndefined();
      }
    }
    expect(examplesOf(operation({ method: 'post', path: '/api/v1/users.create' }), 403)).toEqual({
      'error-not-allowed': { success: false, error: 'Not allowed [error-not-allowed]', errorType: 'error-not-allowed' },
    });
  });

  it('lists the x-2fa-* headers and the handshake answers on @Requires2FA routes', () => {
    const twoFactor = routes.filter((route) => route.twoFactor);
    expect(twoFactor.map((route) => route.path).sort()).toEqual([
      '/api/v1/users.2fa.disableEmail',
      '/api/v1/users.2fa.disableTOTP',
      '/api/v1/users.2fa.regenerateBackupCodes',
      '/api/v1/users.2fa.unlock',
      '/api/v1/users.2fa.validateTOTP',
      '/api/v1/users.create',
      '/api/v1/users.deleteOwnAccount',
      '/api/v1/users.generatePersonalAccessToken',
      '/api/v1/users.regeneratePersonalAccessToken',
      '/api/v1/users.removePersonalAccessToken',
      '/api/v1/users.updateOwnBasicInfo',
    ]);
    for (const route of routes) {
      const op = operation(route);
      const label = `${route.method} ${route.path}`;
      if (!route.twoFactor) {
        if (route.path !== '/api/v1/login') expect(headerNames(op), label).not.toContain('x-2fa-code');
        continue;
      }
      expect(headerNames(op), label).toEqual(expect.arrayContaining(['x-2fa-code', 'x-2fa-method']));
      const failures = examplesOf(op, 400);
      expect(failures['totp-required'], label).toEqual({
        success: false,
        error: 'TOTP Required [totp-required]',
        errorType: 'totp-required',
        details: { method: 'email', codeGenerated: true, emailOrUsername: 'alice@example.com', availableMethods: ['email'] },
      });
      expect(failures['totp-invalid'], label).toMatchObject({
        success: false,
        error: 'TOTP Invalid [totp-invalid]',
        errorType: 'totp-invalid',
      });
      expect(failures['totp-max-attempts'], label).toMatchObject({ success: false, errorType: 'totp-max-attempts' });
      expect(examplesOf(op, 503), label).toEqual({
        'error-email-send-failed': {
          success: false,
          error: 'The email with the code could not be sent; try again later [error-email-send-failed]',
          errorType: 'error-email-send-failed',
        },
        // A code check: refused while the shared rate-limit counters (Redis) do not answer.
        'error-service-unavailable': {
          success: false,
          error: 'Codes cannot be checked right now; try again in a few seconds [error-service-unavailable]',
          errorType: 'error-service-unavailable',
          details: { retryAfterSeconds: 5 },
        },
      });
    }
  });

  it("documents each route's own errors with their errorType", () => {
    const errorTypes = (method: string, path: string, status = 400) =>
      Object.values(examplesOf(operation({ method, path }), status)).map((body: Json) => body.errorType ?? body.error);
    expect(errorTypes('post', '/api/v1/users.register')).toEqual(
      expect.arrayContaining([
        'invalid-params',
        'error-invalid-email',
        'error-field-unavailable',
        'error-password-policy-not-met',
      ]),
    );
    expect(errorTypes('post', '/api/v1/twoFactorChallenges.sendEmailCode')).toEqual(
      expect.arrayContaining([
        'error-parameter-required',
        'error-challenge-not-found',
        'error-challenge-expired',
        'error-invalid-challenge-method',
        'error-user-not-found',
      ]),
    );
    expect(errorTypes('post', '/api/v1/twoFactorChallenges.sendEmailCode', 503)).toEqual(['error-email-send-failed']);
    expect(errorTypes('post', '/api/v1/twoFactorChallenges.verifyChallenge')).toEqual(
      expect.arrayContaining(['error-challenge-not-found', 'error-challenge-expired', 'error-invalid-code', 'totp-max-attempts']),
    );
    expect(errorTypes('post', '/api/v1/users.2fa.enableEmail')).toEqual(['error-invalid-user']);
    expect(errorTypes('post', '/api/v1/users.2fa.validateTOTP')).toEqual(expect.arrayContaining(['error-invalid-code']));
    expect(errorTypes('post', '/api/v1/users.generatePersonalAccessToken')).toEqual(
      expect.arrayContaining(['error-token-already-exists']),
    );
    // login answers in its own 401 shape.
    expect(errorTypes('post', '/api/v1/login', 401)).toEqual(
      expect.arrayContaining(['Unauthorized', 'totp-required', 'totp-invalid', 'totp-max-attempts']),
    );
    expect(examplesOf(operation({ method: 'post', path: '/api/v1/login' }), 401).Unauthorized).toEqual({
      status: 'error',
      error: 'Unauthorized',
      message: 'Unauthorized',
    });
  });

  it('matches what the server really answers (401 without login, the handshake on login and on a 2FA route)', async () => {
    const anonymous = await api.get('/api/v1/me');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual(examplesOf(operation({ method: 'get', path: '/api/v1/me' }), 401).unauthorized);
    expectDocumentedAnswer('get /api/v1/me', anonymous);

    const user = await registerVerifiedUser(api, t);
    const before = t.mail.messages.length;
    const login = await api.post('/api/v1/login', { user: user.username, password: user.password });
    expect(login.status).toBe(401);
    const documentedLogin = examplesOf(operation({ method: 'post', path: '/api/v1/login' }), 401)['totp-required'];
    expect(Object.keys(login.body).sort()).toEqual(Object.keys(documentedLogin).sort());
    expect(Object.keys(login.body.details).sort()).toEqual(Object.keys(documentedLogin.details).sort());
    expect(login.body).toMatchObject({ status: 'error', error: 'totp-required', message: 'TOTP Required' });
    expectDocumentedAnswer('post /api/v1/login', login);

    const code = await t.mail.codeFor(user.email, { after: before });
    const loggedIn = await api.post('/api/v1/login', { user: user.username, password: user.password, code });
    expect(loggedIn.status).toBe(200);
    expectDocumentedAnswer('post /api/v1/login', loggedIn);
    const documentedOk = operation({ method: 'post', path: '/api/v1/login' }).responses['200'].content['application/json']
      .example;
    expect(Object.keys(loggedIn.body.data).sort()).toEqual(Object.keys(documentedOk.data).sort());
    expect(Object.keys(loggedIn.body.data.me).sort()).toEqual(Object.keys(documentedOk.data.me).sort());
    const auth = { userId: loggedIn.body.data.userId, authToken: loggedIn.body.data.authToken };

    // disableEmail asks every time: the documented 400 totp-required, with the documented details.
    const handshake = await api.post('/api/v1/users.2fa.disableEmail', undefined, { auth });
    expect(handshake.status).toBe(400);
    expectDocumentedAnswer('post /api/v1/users.2fa.disableEmail', handshake);
    const documented = examplesOf(operation({ method: 'post', path: '/api/v1/users.2fa.disableEmail' }), 400)['totp-required'];
    expect(handshake.body).toMatchObject({ success: false, error: documented.error, errorType: documented.errorType });
    expect(Object.keys(handshake.body.details)).toEqual(expect.arrayContaining(Object.keys(documented.details)));
    expect(handshake.body.details).toMatchObject({ method: 'email', emailOrUsername: user.email, availableMethods: ['email'] });
  });

  it('answers, route by route, with bodies that validate against the documented schemas', async () => {
    const before = answers.checked;
    const call = async (route: string, status: number, answer: Promise<ApiResponse>) => {
      const res = await answer;
      expect(res.status, `${route} → ${JSON.stringify(res.body)}`).toBe(status);
      expectDocumentedAnswer(route, res);
      return res;
    };
    const username = uniqueName('docs');
    const email = `${username}@example.com`;
    const password = 'correct horse battery';
    const register = (body: Record<string, unknown>) => api.post('/api/v1/users.register', body);

    await call('post /api/v1/users.register', 200, register({ username, email, pass: password, name: 'Doc User' }));
    const taken = await call(
      'post /api/v1/users.register',
      400,
      register({ username, email: `other.${email}`, pass: password, name: 'Doc User' }),
    );
    expect(taken.body).toMatchObject({ errorType: 'error-field-unavailable', details: { field: 'username' } });
    const weak = await call(
      'post /api/v1/users.register',
      400,
      register({ username: `${username}x`, email, pass: 'short', name: 'X' }),
    );
    expect(weak.body.details).toEqual([expect.objectContaining({ error: 'error-password-policy-not-met-minLength', limit: 8 })]);
    const invalid = await call('post /api/v1/users.register', 400, register({ username: 42, email, pass: password, name: 'X' }));
    expect(invalid.body.errorType).toBe('invalid-params');

    const token = new URL(await t.mail.linkFor(email)).searchParams.get('token');
    await call('post /api/v1/users.verifyEmail', 200, api.post('/api/v1/users.verifyEmail', { token }));
    await call('post /api/v1/users.verifyEmail', 400, api.post('/api/v1/users.verifyEmail', { token }));

    const mailed = t.mail.messages.length;
    const pending = await call('post /api/v1/login', 401, api.post('/api/v1/login', { user: username, password }));
    expect(pending.body.details.challengeId).toEqual(expect.any(String));
    const code = await t.mail.codeFor(email, { after: mailed });
    const wrongCode = code.replace(/\d/, (digit) => String((Number(digit) + 1) % 10));
    const wrong = await call('post /api/v1/login', 401, api.post('/api/v1/login', { user: username, password, code: wrongCode }));
    expect(wrong.body.error).toBe('totp-invalid');
    const login = await call('post /api/v1/login', 200, api.post('/api/v1/login', { user: username, password, code }));
    const auth = { userId: login.body.data.userId, authToken: login.body.data.authToken };

    await call('get /api/v1/me', 200, api.get('/api/v1/me', { auth }));
    await call('get /api/v1/users.2fa.backupCodesRemaining', 200, api.get('/api/v1/users.2fa.backupCodesRemaining', { auth }));
    const events = await call('get /api/v1/users.2fa.events', 200, api.get('/api/v1/users.2fa.events', { auth }));
    expect(events.body.events.length).toBeGreaterThan(0);
    await call('get /api/v1/users.2fa.events', 400, api.get('/api/v1/users.2fa.events?count=0', { auth }));
    // The login above counts as the second factor for this client: no handshake here.
    const pat = { tokenName: 'docs-bot' };
    await call(
      'post /api/v1/users.generatePersonalAccessToken',
      200,
      api.post('/api/v1/users.generatePersonalAccessToken', pat, { auth }),
    );
    await call(
      'post /api/v1/users.generatePersonalAccessToken',
      400,
      api.post('/api/v1/users.generatePersonalAccessToken', pat, { auth }),
    );
    const tokens = await call(
      'get /api/v1/users.getPersonalAccessTokens',
      200,
      api.get('/api/v1/users.getPersonalAccessTokens', { auth }),
    );
    expect(tokens.body.tokens).toEqual([expect.objectContaining({ name: 'docs-bot', lastUsedAt: null })]);
    await call('post /api/v1/users.2fa.enableTOTP', 200, api.post('/api/v1/users.2fa.enableTOTP', undefined, { auth }));
    await call('post /api/v1/users.2fa.disableEmail', 400, api.post('/api/v1/users.2fa.disableEmail', undefined, { auth }));
    await call(
      'post /api/v1/users.2fa.sendEmailCode',
      200,
      api.post('/api/v1/users.2fa.sendEmailCode', { emailOrUsername: email }),
    );
    const newUser = { email: `new.${email}`, name: 'New', password, username: `${username}n` };
    await call('post /api/v1/users.create', 403, api.post('/api/v1/users.create', newUser, { auth }));
    const challenge = { challengeId: 'f'.repeat(64), code: '123456' };
    await call(
      'post /api/v1/twoFactorChallenges.verifyChallenge',
      400,
      api.post('/api/v1/twoFactorChallenges.verifyChallenge', challenge),
    );
    await call('post /api/v1/logout', 200, api.post('/api/v1/logout', undefined, { auth }));
    await call('get /api/v1/me', 401, api.get('/api/v1/me', { auth }));
    expect(answers.checked - before).toBe(23);
  });

  it('holds no secret-looking example', () => {
    const all = [...strings(doc)];
    expect(all.length).toBeGreaterThan(100);
    const hex = all.flatMap((text) => text.match(/[0-9a-fA-F]{64,}/g) ?? []);
    // The documented placeholders (challengeId, currentPassword) are there, and only placeholders.
    expect(hex.length).toBeGreaterThan(0);
    expect(hex.filter((value) => !isObviousPlaceholder(value))).toEqual([]);
    // Schema names (V1PersonalAccessTokenResponseDto) mix cases and digits too: they are the code's, not secrets.
    const schemaNames = new Set(Object.keys(doc.components.schemas));
    expect(all.flatMap((text) => text.match(RANDOM_LOOKING) ?? []).filter((match) => !schemaNames.has(match))).toEqual([]);
    // The check itself recognises the service's real tokens and ids.
    expect('x '.concat(randomBytes(32).toString('base64url').replace(/^/, 'aA0')).match(RANDOM_LOOKING)).toHaveLength(1);
    expect(isObviousPlaceholder(randomBytes(32).toString('hex'))).toBe(false);
    // Nothing from the running instance (its APP_SECRET) leaks into the document.
    expect(t.config.APP_SECRET).toEqual(expect.any(String));
    expect(JSON.stringify(doc)).not.toContain(t.config.APP_SECRET);
  });
});
