import { randomBytes } from 'node:crypto';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthApiModule } from '../src/api/auth/auth-api.module.js';
import { S2_ERRORS } from '../src/api/auth/s2-errors.js';
import { Api, type ApiResponse, uniqueName } from './helpers/api.js';
import { DocumentedAnswers } from './helpers/openapi-validator.js';
import { S2Api, type S2Tokens } from './helpers/s2.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

type Json = any;

/** Surface 2's routes as its controllers declare them (`get /api/users/me/sessions/{id}` style). */
function declaredS2Routes(): string[] {
  const controllers: Array<new (...args: never[]) => object> = Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, AuthApiModule);
  return controllers.flatMap((controller) => {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller));
    const prototype = controller.prototype as Record<string, unknown>;
    return Object.getOwnPropertyNames(prototype).flatMap((name) => {
      const handler = prototype[name];
      if (typeof handler !== 'function' || name === 'constructor') return [];
      const path: unknown = Reflect.getMetadata(PATH_METADATA, handler);
      if (typeof path !== 'string') return [];
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod].toLowerCase();
      const full = `/${base}${path === '/' ? '' : `/${path}`}`.replace(/:(\w+)/g, '{$1}');
      return [`${method} ${full}`];
    });
  });
}

/**
 * Every route Fastify serves, from `printRoutes`' tree: one node a line, four columns of indent a
 * level, a child's path continuing its parent's; HEAD is Fastify's automatic twin of GET.
 */
function registeredRoutes(t: TestApp): string[] {
  const tree: string = t.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false });
  const parents: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const node = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!node) continue;
    const depth = node[1]!.length / 4;
    const path = `${depth > 0 ? parents[depth - 1] : ''}${node[2]}`;
    parents[depth] = path;
    parents.length = depth + 1;
    for (const method of node[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') routes.push(`${method.toLowerCase()} ${path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes;
}

const isSurfaceTwo = (path: string) => /^\/api\/(auth|users\/me\/sessions)(\/|$)/.test(path);

/** Every string anywhere in the document, keys included. */
function* strings(value: Json): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* strings(item);
  else if (value && typeof value === 'object') for (const [key, item] of Object.entries(value)) yield* [key, ...strings(item)];
}

/** A string made of one short block repeated is an obvious placeholder; anything else may be a real secret. */
const isObviousPlaceholder = (text: string): boolean => /^(.{1,16})\1+$/.test(text);

/** A run of 32+ base64url characters mixing lower case, upper case and digits, as the service's random tokens look. */
const RANDOM_LOOKING = /(?<![\w-])(?=[\w-]*[a-z])(?=[\w-]*[A-Z])(?=[\w-]*\d)[\w-]{32,}/g;
/** Base32 runs as long as a TOTP secret. */
const BASE32_RUN = /[A-Z2-7]{16,}/g;
/** The authenticator documentation's well-known example secret (base32 of "Hello!" and 0xDEADBEEF). */
const BASE32_EXAMPLE = 'JBSWY3DPEHPK3PXP';
/** Where a JWT begins (`{"` in base64url): only the placeholder `eyJhbGciOi...` may follow. */
const JWT_START = /eyJ[\w.-]*/g;
const JWT_PLACEHOLDER = 'eyJhbGciOi';

/** The tokens each route reads: 'required' ones must all be presented, 'either' means any one of those marked so. */
interface TokenNeeds {
  access?: 'required' | 'optional' | 'either';
  stepUp?: 'required' | 'optional';
  twoFactor?: 'required' | 'optional' | 'either';
  refresh?: 'required';
}

const TOKENS: Record<string, TokenNeeds> = {
  'post /api/auth/register': {},
  'post /api/auth/login': {},
  'post /api/auth/2fa/login': { twoFactor: 'required' },
  'post /api/auth/2fa/totp/recover': { twoFactor: 'required' },
  'post /api/auth/refresh': { refresh: 'required' },
  'post /api/auth/logout': {},
  'post /api/auth/step-up': { access: 'required' },
  'post /api/auth/2fa/step-up': { access: 'required', twoFactor: 'required' },
  'get /api/auth/status': { access: 'optional', stepUp: 'optional', twoFactor: 'optional' },
  'post /api/auth/2fa/preferred-method': { access: 'required', stepUp: 'required' },
  'post /api/auth/2fa/email/send': { access: 'either', twoFactor: 'either' },
  'get /api/auth/2fa/email/cooldown': { access: 'either', twoFactor: 'either' },
  'post /api/auth/2fa/email/enable': { access: 'required', stepUp: 'required' },
  'delete /api/auth/2fa/email': { access: 'required', stepUp: 'required' },
  'get /api/auth/2fa/totp/setup': { access: 'required', stepUp: 'required' },
  'post /api/auth/2fa/totp/setup': { access: 'required', stepUp: 'required' },
  'delete /api/auth/2fa/totp': { access: 'required', stepUp: 'required' },
  'get /api/users/me/sessions': { access: 'required' },
  'delete /api/users/me/sessions': { access: 'required' },
  'delete /api/users/me/sessions/{id}': { access: 'required' },
};

/** Each route with a JSON body: its fields and which of them are required. */
const BODIES: Record<string, { fields: string[]; required: string[] }> = {
  'post /api/auth/register': { fields: ['email', 'password', 'name'], required: ['email', 'password', 'name'] },
  'post /api/auth/login': { fields: ['email', 'password', 'session'], required: ['email', 'password'] },
  'post /api/auth/2fa/login': { fields: ['email', 'totp', 'session'], required: [] },
  'post /api/auth/2fa/totp/recover': { fields: ['code', 'session'], required: ['code'] },
  'post /api/auth/refresh': { fields: ['browser', 'os'], required: [] },
  'post /api/auth/step-up': { fields: ['password'], required: [] },
  'post /api/auth/2fa/step-up': { fields: ['email', 'totp'], required: [] },
  'post /api/auth/2fa/preferred-method': { fields: ['method'], required: ['method'] },
  'post /api/auth/2fa/email/enable': { fields: ['code'], required: ['code'] },
  'post /api/auth/2fa/totp/setup': { fields: ['token', 'code'], required: ['token', 'code'] },
};

/** Seed 001's error list for POST /api/auth/2fa/email/enable, by status. */
const SEED_001_ENABLE_EMAIL_ERRORS: Record<number, string[]> = {
  304: ['TWO_FACTOR_METHOD_ALREADY_ENABLED'],
  400: ['NO_PASSWORD_PROVIDER'],
  401: [
    'ACCESS_TOKEN_EXPIRED',
    'ACCESS_TOKEN_INVALID',
    'AUTHENTICATION_REQUIRED',
    'STEP_UP_TOKEN_EXPIRED',
    'STEP_UP_TOKEN_INVALID',
    'STEP_UP_TOKEN_MISSING',
    'TWO_FACTOR_CODE_EXPIRED',
    'WRONG_TWO_FACTOR_CODE',
  ],
  404: ['USER_NOT_FOUND'],
  500: [
    'ACCESS_TOKEN_ALLOWLIST_READING_FAILURE',
    'DATABASE_FAILURE',
    'DATABASE_ENCRYPTION_FAILURE',
    'INVALID_USER_DOCUMENT',
    'POST_COMMIT_SIDE_EFFECT_FAILURE',
    'INVALID_PRINCIPAL_DOCUMENT',
  ],
};

const S2_ERROR_KEYS = ['code', 'error', 'message', 'path', 'status', 'timestamp'];

describe('OpenAPI document, surface 2 (/api/auth, /api/users/me/sessions)', () => {
  let t: TestApp;
  let doc: Json;
  let answers: DocumentedAnswers;
  const declared = declaredS2Routes().sort();

  /** A real answer, checked against the documented status and schema. */
  const expectDocumentedAnswer = (route: string, res: { status: number; body: unknown }) => {
    expect(answers.problems(route, res), `${route} → ${res.status} ${JSON.stringify(res.body)}`).toEqual([]);
  };

  const operation = (route: string): Json => {
    const [method, path] = route.split(' ') as [string, string];
    return doc.paths[path]?.[method];
  };
  const pathOf = (route: string): string => route.split(' ')[1]!;
  const schemaOf = (schema: Json): Json => {
    const ref: string | undefined = schema?.$ref ?? schema?.allOf?.[0]?.$ref;
    return ref ? doc.components.schemas[ref.replace('#/components/schemas/', '')] : schema;
  };
  const examplesOf = (op: Json, status: number | string): Record<string, Json> => {
    const examples = op.responses[String(status)]?.content?.['application/json']?.examples ?? {};
    return Object.fromEntries(Object.entries(examples).map(([name, example]) => [name, (example as Json).value]));
  };
  /** The codes a response names: its examples, or (a 304, without a body) its description's `CODES`. */
  const codesOf = (op: Json, status: number | string): string[] => {
    const response = op.responses[String(status)];
    if (!response) return [];
    if (String(status) === '304') return descriptionCodes(response);
    return Object.keys(examplesOf(op, status));
  };
  /** The codes a response's description names (once each: two domain errors may share a code). */
  const descriptionCodes = (response: Json): string[] => [
    ...new Set([...String(response.description).matchAll(/`([A-Z0-9_]+)`/g)].map(([, code]) => code!)),
  ];
  /** The security schemes a route references (any alternative). */
  const schemesOf = (op: Json): string[] => [
    ...new Set<string>((op.security ?? []).flatMap((alternative: Json) => Object.keys(alternative))),
  ];
  /** The names of the security schemes that carry each token. */
  const scheme = {
    accessCookie: '',
    accessBearer: '',
    refreshCookie: '',
    stepUpCookie: '',
    stepUpHeader: '',
    twoFactorCookie: '',
    twoFactorHeader: '',
  };

  beforeAll(async () => {
    t = await createTestApp();
    const res = await new Api(t.baseUrl).get('/api/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
    answers = new DocumentedAnswers(doc);
    const find = (match: Json): string =>
      Object.entries(doc.components?.securitySchemes ?? {}).find(([, value]) =>
        Object.entries(match).every(
          ([key, wanted]) => String((value as Json)[key]).toLowerCase() === String(wanted).toLowerCase(),
        ),
      )?.[0] ?? '';
    scheme.accessCookie = find({ type: 'apiKey', in: 'cookie', name: 'access_token' });
    scheme.accessBearer = find({ type: 'http', scheme: 'bearer' });
    scheme.refreshCookie = find({ type: 'apiKey', in: 'cookie', name: 'refresh_token' });
    scheme.stepUpCookie = find({ type: 'apiKey', in: 'cookie', name: 'step_up_token' });
    scheme.stepUpHeader = find({ type: 'apiKey', in: 'header', name: 'X-Step-Up-Token' });
    scheme.twoFactorCookie = find({ type: 'apiKey', in: 'cookie', name: 'two_factor_authentication_token' });
    scheme.twoFactorHeader = find({ type: 'apiKey', in: 'header', name: 'X-Two-Factor-Authentication-Token' });
  });
  afterAll(async () => t?.close());

  it("describes surface 2's error format and token carriage in the document's description", () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.description).toContain('/api/auth');
    expect(doc.info.description).toContain('X-Error-Code');
    for (const key of S2_ERROR_KEYS) expect(doc.info.description).toContain(`"${key}"`);
  });

  it('documents every surface-2 route the app serves, with its method, and no other', () => {
    const registered = registeredRoutes(t)
      .filter((route) => isSurfaceTwo(pathOf(route)))
      .sort();
    // The controllers' metadata and the server agree, and the list is the full surface.
    expect(declared).toEqual(registered);
    expect(registered).toEqual(Object.keys(TOKENS).sort());
    // The tree parser reads nested routes (2fa/totp/setup sits under 2fa/totp).
    expect(registered).toEqual(
      expect.arrayContaining([
        'get /api/auth/2fa/totp/setup',
        'post /api/auth/2fa/totp/recover',
        'delete /api/users/me/sessions/{id}',
      ]),
    );
    // Surface 1 is still there, unmixed.
    expect(registeredRoutes(t)).toEqual(expect.arrayContaining(['post /api/v1/login', 'get /api/openapi.json']));

    const documented = Object.entries(doc.paths as Record<string, Json>)
      .filter(([path]) => isSurfaceTwo(path))
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .sort();
    expect(documented).toEqual(registered);
  });

  it('gives every route a summary, a tag, a 200 example and the 400 INVALID_REQUEST and 429 answers', () => {
    for (const route of declared) {
      const op = operation(route);
      expect(op.summary, route).toMatch(/\w{3}/);
      expect(op.tags, route).toEqual([expect.stringMatching(/^auth: /)]);
      const ok = op.responses['200']?.content?.['application/json']?.example;
      expect(ok, route).toEqual(expect.anything());
      expect(typeof ok, route).toBe('object');
      expect(codesOf(op, 400), route).toContain('INVALID_REQUEST');
      expect(codesOf(op, 429), route).toContain('TOO_MANY_ATTEMPTS');
    }
  });

  it('describes each request body with its typed fields (type, description, example) and required ones', () => {
    const bodies = declared.filter((route) => operation(route).requestBody);
    expect(bodies.sort()).toEqual(Object.keys(BODIES).sort());
    for (const route of declared) {
      const requestBody = operation(route).requestBody;
      const expected = BODIES[route];
      if (!expected) {
        expect(requestBody, `${route} takes no body`).toBeUndefined();
        continue;
      }
      expect(Object.keys(requestBody.content), route).toEqual(['application/json']);
      const schema = schemaOf(requestBody.content['application/json'].schema);
      expect(schema.type, route).toBe('object');
      expect(Object.keys(schema.properties ?? {}).sort(), route).toEqual([...expected.fields].sort());
      expect([...(schema.required ?? [])].sort(), route).toEqual([...expected.required].sort());
      for (const [field, property] of Object.entries(schema.properties as Record<string, Json>)) {
        expect(property.description, `${route} ${field}`).toMatch(/\w/);
        if (property.$ref || property.allOf) {
          // A nested object (the device): typed fields of its own.
          const nested = schemaOf(property);
          expect(nested.type, `${route} ${field}`).toBe('object');
          for (const [inner, innerProperty] of Object.entries(nested.properties as Record<string, Json>)) {
            expect(innerProperty.type, `${route} ${field}.${inner}`).toBe('string');
            expect(innerProperty.example, `${route} ${field}.${inner}`).toBeDefined();
          }
          continue;
        }
        // A TOTP code is an integer or a string: both shapes are typed.
        const types: unknown[] = property.oneOf ? property.oneOf.map((shape: Json) => shape.type) : [property.type];
        for (const type of types) expect(type, `${route} ${field}`).toMatch(/^(string|integer|number|boolean|object|array)$/);
        expect(property.example, `${route} ${field}`).toBeDefined();
      }
    }

    const totp = schemaOf(operation('post /api/auth/2fa/login').requestBody.content['application/json'].schema).properties.totp;
    expect(totp.oneOf).toEqual([
      expect.objectContaining({ type: 'integer', minimum: 0, maximum: 999999 }),
      expect.objectContaining({ type: 'string' }),
    ]);
    const preferred = schemaOf(operation('post /api/auth/2fa/preferred-method').requestBody.content['application/json'].schema);
    expect(preferred.properties.method).toMatchObject({ type: 'string', enum: ['email', 'totp'] });
    const register = schemaOf(operation('post /api/auth/register').requestBody.content['application/json'].schema);
    expect(register.properties.password).toMatchObject({ type: 'string', maxLength: 1024 });
  });

  it('documents ?locale= on the routes that mail, and the session id in the path', () => {
    const withLocale = declared.filter((route) =>
      (operation(route).parameters ?? []).some((parameter: Json) => parameter.in === 'query' && parameter.name === 'locale'),
    );
    expect(withLocale.sort()).toEqual(
      [
        'post /api/auth/register',
        'post /api/auth/login',
        'post /api/auth/step-up',
        'post /api/auth/2fa/email/send',
        'post /api/auth/2fa/email/enable',
        'delete /api/auth/2fa/email',
        'post /api/auth/2fa/totp/setup',
        'delete /api/auth/2fa/totp',
      ].sort(),
    );
    expect(operation('delete /api/users/me/sessions/{id}').parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path', required: true, schema: { type: 'string' } })]),
    );
  });

  it('has the S2Error schema, and every error response uses it with examples in its shape (a 304: X-Error-Code, no body)', () => {
    expect(doc.components.schemas.S2Error).toMatchObject({
      type: 'object',
      properties: {
        timestamp: { type: 'string', format: 'date-time' },
        status: { type: 'integer' },
        code: { type: 'string' },
        error: { type: 'string' },
        message: { type: 'string' },
        path: { type: 'string' },
      },
    });
    expect([...doc.components.schemas.S2Error.required].sort()).toEqual(S2_ERROR_KEYS);
    const mappings = Object.values(S2_ERRORS);
    let examples = 0;
    let notModified = 0;
    for (const route of declared) {
      const op = operation(route);
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        if (status === '200') continue;
        const label = `${route} ${status}`;
        expect(Number(status), label).toBeGreaterThanOrEqual(300);
        expect(response.description, label).toMatch(/`[A-Z0-9_]+`/);
        if (status === '304') {
          notModified++;
          expect(response.content, label).toBeUndefined();
          expect(response.headers?.['X-Error-Code'], label).toMatchObject({ schema: { type: 'string' } });
          for (const code of codesOf(op, 304)) {
            expect(
              mappings.some((mapping) => mapping.code === code && mapping.status === 304),
              `${label} ${code}`,
            ).toBe(true);
          }
          continue;
        }
        const content = response.content?.['application/json'];
        expect(content?.schema, label).toEqual({ $ref: '#/components/schemas/S2Error' });
        const named = examplesOf(op, status);
        expect(Object.keys(named).length, label).toBeGreaterThan(0);
        // The description lists exactly the codes the examples show.
        expect(descriptionCodes(response).sort(), label).toEqual(Object.keys(named).sort());
        for (const [name, body] of Object.entries(named)) {
          examples++;
          expect(Object.keys(body).sort(), `${label} ${name}`).toEqual(S2_ERROR_KEYS);
          expect(body, `${label} ${name}`).toEqual({
            timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
            status: Number(status),
            code: name,
            error: expect.stringMatching(/^\w+$/),
            message: expect.stringMatching(/\w/),
            path: pathOf(route),
          });
          // The example is what the server's error map answers for that code.
          expect(
            mappings.some(
              (mapping) => mapping.code === body.code && mapping.status === body.status && mapping.error === body.error,
            ),
            `${label} ${name}`,
          ).toBe(true);
        }
      }
    }
    expect(examples).toBeGreaterThan(100);
    expect(notModified).toBeGreaterThanOrEqual(6);
    // The routes that answer a 304 document it.
    for (const [route, code] of [
      ['post /api/auth/register', 'ALREADY_AUTHENTICATED'],
      ['post /api/auth/2fa/login', 'ALREADY_AUTHENTICATED'],
      ['post /api/auth/2fa/email/enable', 'TWO_FACTOR_METHOD_ALREADY_ENABLED'],
      ['delete /api/auth/2fa/email', 'TWO_FACTOR_METHOD_ALREADY_DISABLED'],
      ['get /api/auth/2fa/totp/setup', 'TWO_FACTOR_METHOD_ALREADY_ENABLED'],
      ['delete /api/auth/2fa/totp', 'TWO_FACTOR_METHOD_ALREADY_DISABLED'],
    ] as const) {
      expect(codesOf(operation(route), 304), route).toEqual([code]);
    }
  });

  it('types every 200 with a response DTO (an array of them for the session list), and every example fits its schema', () => {
    const refOf = (schema: Json): string => String(schema?.$ref ?? '').replace('#/components/schemas/', '');
    let examples = 0;
    for (const route of declared) {
      const op = operation(route);
      const schema = op.responses['200'].content['application/json'].schema;
      const name = route === 'get /api/users/me/sessions' ? refOf(schema.items) : refOf(schema);
      if (route === 'get /api/users/me/sessions') expect(schema.type, route).toBe('array');
      expect(name, route).toMatch(/^S2\w+ResponseDto$/);
      expect(doc.components.schemas[name], route).toMatchObject({ type: 'object', required: expect.any(Array) });
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        const content = response.content?.['application/json'];
        if (!content) continue; // a 304: no body
        const bodies = [
          ...(content.example !== undefined ? [content.example] : []),
          ...Object.values(content.examples ?? {}).map((example) => (example as Json).value),
        ];
        for (const body of bodies) {
          examples++;
          expect(answers.problems(route, { status: Number(status), body }), `${route} ${status} example`).toEqual([]);
        }
      }
    }
    expect(examples).toBeGreaterThan(100);
    // The schemas are strict enough to catch a wrong body.
    const login = operation('post /api/auth/login').responses['200'].content['application/json'].example;
    const withoutLocation = Object.fromEntries(Object.entries(login).filter(([key]) => key !== 'location'));
    expect(answers.problems('post /api/auth/login', { status: 200, body: withoutLocation }).length).toBeGreaterThan(0);
    expect(
      answers.problems('post /api/auth/login', { status: 200, body: { ...login, preferredTwoFactorMethod: 'sms' } }).length,
    ).toBeGreaterThan(0);
    expect(
      answers.problems('post /api/auth/login', { status: 401, body: { code: 'INVALID_CREDENTIALS' } }).length,
    ).toBeGreaterThan(0);
  });

  it("documents seed 001's error list for POST /api/auth/2fa/email/enable with its statuses", () => {
    const op = operation('post /api/auth/2fa/email/enable');
    const extra: Record<number, string[]> = { 400: ['INVALID_REQUEST'] };
    for (const [status, codes] of Object.entries(SEED_001_ENABLE_EMAIL_ERRORS)) {
      expect(codesOf(op, status).sort(), status).toEqual([...codes, ...(extra[Number(status)] ?? [])].sort());
    }
    // Beyond seed 001: validation and rate limits (every route), too many wrong codes, and the
    // 503 of a code check while the shared rate-limit counters (Redis) do not answer.
    const statuses = Object.keys(op.responses).map(Number).sort();
    expect(statuses).toEqual([200, 304, 400, 401, 404, 429, 500, 503]);
    expect(codesOf(op, 503)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(codesOf(op, 429)).toEqual(['TOO_MANY_ATTEMPTS']);
  });

  it("documents each route's token errors (access, step-up, two-factor, refresh)", () => {
    const ACCESS = ['AUTHENTICATION_REQUIRED', 'ACCESS_TOKEN_INVALID', 'ACCESS_TOKEN_EXPIRED'];
    const STEP_UP = ['STEP_UP_TOKEN_MISSING', 'STEP_UP_TOKEN_INVALID', 'STEP_UP_TOKEN_EXPIRED'];
    const TWO_FACTOR = [
      'TWO_FACTOR_AUTHENTICATION_TOKEN_MISSING',
      'TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID',
      'TWO_FACTOR_AUTHENTICATION_TOKEN_EXPIRED',
    ];
    const REFRESH = ['REFRESH_TOKEN_MISSING', 'REFRESH_TOKEN_INVALID', 'REFRESH_TOKEN_EXPIRED'];
    for (const route of declared) {
      const needs = TOKENS[route]!;
      const unauthorized = codesOf(operation(route), 401);
      const expectIf = (condition: boolean, codes: string[], label: string) => {
        if (condition) expect(unauthorized, `${route}: ${label}`).toEqual(expect.arrayContaining(codes));
        else for (const code of codes) expect(unauthorized, `${route}: no ${label}`).not.toContain(code);
      };
      // An optional access token (status) is checked when given: ACCESS_TOKEN_INVALID/EXPIRED only, below.
      if (needs.access !== 'optional') expectIf(needs.access !== undefined, ACCESS, 'access errors');
      expectIf(needs.stepUp === 'required', STEP_UP, 'step-up errors');
      expectIf(needs.twoFactor === 'required' || needs.twoFactor === 'either', TWO_FACTOR, 'two-factor token errors');
      expectIf(needs.refresh === 'required', REFRESH, 'refresh errors');
    }
    // status checks the access token it is given, and answers without one.
    expect(codesOf(operation('get /api/auth/status'), 401).sort()).toEqual(['ACCESS_TOKEN_EXPIRED', 'ACCESS_TOKEN_INVALID']);
  });

  it('has a security scheme for every token and carriage, and routes reference the ones they read', () => {
    expect(scheme).toEqual({
      accessCookie: expect.stringMatching(/./),
      accessBearer: expect.stringMatching(/./),
      refreshCookie: expect.stringMatching(/./),
      stepUpCookie: expect.stringMatching(/./),
      stepUpHeader: expect.stringMatching(/./),
      twoFactorCookie: expect.stringMatching(/./),
      twoFactorHeader: expect.stringMatching(/./),
    });
    expect(doc.components.securitySchemes[scheme.accessBearer]).toMatchObject({ bearerFormat: 'JWT' });
    for (const route of declared) {
      const needs = TOKENS[route]!;
      const expected = [
        ...(needs.access ? [scheme.accessCookie, scheme.accessBearer] : []),
        ...(needs.stepUp ? [scheme.stepUpCookie, scheme.stepUpHeader] : []),
        ...(needs.twoFactor ? [scheme.twoFactorCookie, scheme.twoFactorHeader] : []),
        // The refresh token travels in its cookie, or as the bearer token of /refresh.
        ...(needs.refresh ? [scheme.refreshCookie, scheme.accessBearer] : []),
      ];
      expect(schemesOf(operation(route)).sort(), route).toEqual([...new Set(expected)].sort());
    }
    // Surface 1 authenticates with X-User-Id / X-Auth-Token, not with these.
    const surfaceTwoSchemes = new Set(Object.values(scheme));
    let surfaceOne = 0;
    for (const [path, operations] of Object.entries(doc.paths as Record<string, Json>)) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const [method, op] of Object.entries(operations as Record<string, Json>)) {
        surfaceOne++;
        const named = (op.security as Json[]).flatMap((alternative) => Object.keys(alternative));
        expect(
          named.filter((name) => surfaceTwoSchemes.has(name)),
          `${method} ${path}`,
        ).toEqual([]);
        for (const name of named)
          expect(doc.components.securitySchemes[name], `${method} ${path} ${name}`).toMatchObject({ in: 'header' });
      }
    }
    expect(surfaceOne).toBeGreaterThan(20);
  });

  it("expresses each route's token requirements as OpenAPI means them (alternatives are OR, schemes within one are AND)", () => {
    const has = (alternative: Json, ...names: string[]) => names.some((name) => name in alternative);
    const violations: string[] = [];
    let checked = 0;
    for (const route of declared) {
      const needs = TOKENS[route]!;
      const security: Json[] = operation(route).security ?? [];
      const values = Object.values(needs);
      if (values.length === 0) {
        if (security.length > 0) violations.push(`${route}: reads no token, yet lists ${JSON.stringify(security)}`);
        continue;
      }
      // Nothing required: a request without any token is allowed too (the empty alternative).
      if (!values.includes('required') && !values.includes('either')) {
        if (!security.some((alternative) => Object.keys(alternative).length === 0)) {
          violations.push(`${route}: every token is optional, yet {} is not among ${JSON.stringify(security)}`);
        }
        continue;
      }
      for (const alternative of security) {
        checked++;
        const missing = [
          needs.access === 'required' && !has(alternative, scheme.accessCookie, scheme.accessBearer) && 'an access token',
          needs.stepUp === 'required' && !has(alternative, scheme.stepUpCookie, scheme.stepUpHeader) && 'a step-up token',
          needs.twoFactor === 'required' &&
            !has(alternative, scheme.twoFactorCookie, scheme.twoFactorHeader) &&
            'a two-factor token',
          needs.refresh === 'required' && !has(alternative, scheme.refreshCookie, scheme.accessBearer) && 'a refresh token',
          values.includes('either') &&
            !has(alternative, scheme.accessCookie, scheme.accessBearer, scheme.twoFactorCookie, scheme.twoFactorHeader) &&
            'an access or a two-factor token',
        ].filter(Boolean);
        if (missing.length > 0) violations.push(`${route}: ${JSON.stringify(alternative)} lacks ${missing.join(' and ')}`);
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(violations).toEqual([]);
  });

  it("lists none of surface 1's x-2fa-* headers on surface 2 (a step-up token is its second factor)", () => {
    const listed = declared.flatMap((route) =>
      (operation(route).parameters ?? [])
        .filter((parameter: Json) => parameter.in === 'header' && /^x-2fa-/i.test(String(parameter.name)))
        .map((parameter: Json) => `${route}: ${parameter.name}`),
    );
    expect(listed).toEqual([]);
    // The check sees these headers where they belong.
    const v1 = doc.paths['/api/v1/users.2fa.disableEmail'].post.parameters.map((parameter: Json) => parameter.name);
    expect(v1).toEqual(expect.arrayContaining(['x-2fa-code', 'x-2fa-method']));
  });

  describe('the examples match what the server really answers', () => {
    let api: S2Api;
    const tokens: S2Tokens = {};
    const email = `${uniqueName('s2doc')}@example.com`;
    const password = 'S2-openapi-user-password-91c2';
    const ENABLE = 'post /api/auth/2fa/email/enable';

    /** A real error answer against the documented example: every key, and every value but the time. */
    const expectDocumented = (res: { status: number; body: Json }, route: string, code: string, sameMessage = true) => {
      const documented = examplesOf(operation(route), res.status)[code];
      expect(documented, `${route} documents ${res.status} ${code}`).toBeDefined();
      expect(Object.keys(res.body).sort()).toEqual(Object.keys(documented).sort());
      const { timestamp, message, ...rest } = res.body;
      const { timestamp: documentedAt, message: documentedMessage, ...documentedRest } = documented;
      expect(rest).toEqual(documentedRest);
      expect(rest).toMatchObject({ code, status: res.status, path: pathOf(route) });
      expect(typeof timestamp).toBe(typeof documentedAt);
      if (sameMessage) expect(message).toBe(documentedMessage);
      else expect(typeof message).toBe('string');
      expectDocumentedAnswer(route, res);
    };
    const expectDocumentedOk = (res: { status: number; body: Json }, route: string) => {
      expect(res.status).toBe(200);
      const documented = operation(route).responses['200'].content['application/json'].example;
      expect(Object.keys(res.body).sort()).toEqual(Object.keys(documented).sort());
      expectDocumentedAnswer(route, res);
      return documented;
    };
    /** Any documented answer: the status expected, the body valid against the documented schema. */
    const call = async (route: string, status: number, answer: Promise<ApiResponse>) => {
      const res = await answer;
      expect(res.status, `${route} → ${JSON.stringify(res.body)}`).toBe(status);
      expectDocumentedAnswer(route, res);
      return res;
    };

    beforeAll(async () => {
      api = new S2Api(t.baseUrl, 'headers');
    });

    it('register, login and 2fa/login answer the documented 200 shapes', async () => {
      expectDocumentedOk(await api.post('/api/auth/register', { email, password, name: 'Doc User' }), 'post /api/auth/register');
      const link = new URL(await t.mail.linkFor(email));
      expect((await new Api(t.baseUrl).post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') })).status).toBe(
        200,
      );
      const before = t.mail.messages.length;
      const login = await api.post('/api/auth/login', { email, password });
      const documentedLogin = expectDocumentedOk(login, 'post /api/auth/login');
      expect(Object.keys(login.body.user).sort()).toEqual(Object.keys(documentedLogin.user).sort());
      tokens.twoFactor = login.body.twoFactorAuthenticationToken;

      // A wrong code first: the documented WRONG_TWO_FACTOR_CODE.
      const code = await t.mail.codeFor(email, { after: before });
      const wrong = await api.post(
        '/api/auth/2fa/login',
        { email: code === '111-111' ? '222222' : '111111' },
        { tokens: { twoFactor: tokens.twoFactor } },
      );
      expect(wrong.status).toBe(401);
      expectDocumented(wrong, 'post /api/auth/2fa/login', 'WRONG_TWO_FACTOR_CODE');

      const done = await api.post('/api/auth/2fa/login', { email: code }, { tokens: { twoFactor: tokens.twoFactor } });
      const documentedDone = expectDocumentedOk(done, 'post /api/auth/2fa/login');
      expect(Object.keys(done.body.user).sort()).toEqual(Object.keys(documentedDone.user).sort());
      tokens.access = done.body.accessToken;
      tokens.refresh = done.body.refreshToken;
      delete tokens.twoFactor;
    });

    it('email/enable: AUTHENTICATION_REQUIRED, STEP_UP_TOKEN_MISSING and ACCESS_TOKEN_INVALID as documented', async () => {
      expect(tokens.access).toEqual(expect.any(String));
      const anonymous = await api.post('/api/auth/2fa/email/enable', { code: '123456' });
      expect(anonymous.status).toBe(401);
      expectDocumented(anonymous, ENABLE, 'AUTHENTICATION_REQUIRED');

      const missing = await api.post('/api/auth/2fa/email/enable', { code: '123456' }, { tokens: { access: tokens.access } });
      expect(missing.status).toBe(401);
      expectDocumented(missing, ENABLE, 'STEP_UP_TOKEN_MISSING');

      const badAccess = await api.post('/api/auth/2fa/email/enable', { code: '123456' }, { tokens: { access: 'eyJhbGciOi...' } });
      expect(badAccess.status).toBe(401);
      expectDocumented(badAccess, ENABLE, 'ACCESS_TOKEN_INVALID');
    });

    it('email/enable after a step-up: INVALID_REQUEST, and the 304 TWO_FACTOR_METHOD_ALREADY_ENABLED in X-Error-Code without a body, as documented', async () => {
      const before = t.mail.messages.length;
      const stepUp = await api.post('/api/auth/step-up', { password }, { tokens: { access: tokens.access } });
      expect(Object.keys(stepUp.body).sort()).toEqual(
        Object.keys(operation('post /api/auth/step-up').responses['200'].content['application/json'].example).sort(),
      );
      const code = await t.mail.codeFor(email, { after: before });
      const stepped = await api.post(
        '/api/auth/2fa/step-up',
        { email: code },
        { tokens: { access: tokens.access, twoFactor: stepUp.body.twoFactorAuthenticationToken } },
      );
      expectDocumentedOk(stepped, 'post /api/auth/2fa/step-up');
      tokens.stepUp = stepped.body.stepUpToken;

      // With every token, a body that is not valid: INVALID_REQUEST (the message names the field; the path has no query).
      const stepUpTokens = { access: tokens.access, stepUp: tokens.stepUp };
      const garbled = await api.post('/api/auth/2fa/email/enable?locale=de', { code: 123456 }, { tokens: stepUpTokens });
      expect(garbled.status).toBe(400);
      expectDocumented(garbled, ENABLE, 'INVALID_REQUEST', false);
      expect(garbled.body.message).toMatch(/code/);

      const already = await api.post('/api/auth/2fa/email/enable', { code: '123456' }, { tokens: stepUpTokens });
      expect(already.status).toBe(304);
      expect(already.body).toBeUndefined();
      expectDocumentedAnswer(ENABLE, already);
      const documented = operation(ENABLE).responses['304'];
      expect(documented.content).toBeUndefined();
      expect(Object.keys(documented.headers).map((name) => name.toLowerCase())).toContain('x-error-code');
      expect(codesOf(operation(ENABLE), 304)).toContain(already.headers.get('x-error-code'));

      // The x-2fa-* headers surface 1 uses mean nothing here: without a step-up token, STEP_UP_TOKEN_MISSING.
      const withHeaders = await api.post(
        '/api/auth/2fa/preferred-method',
        { method: 'email' },
        { tokens: { access: tokens.access }, headers: { 'x-2fa-method': 'email', 'x-2fa-code': '123456' } },
      );
      expect(withHeaders.status).toBe(401);
      expectDocumented(withHeaders, 'post /api/auth/2fa/preferred-method', 'STEP_UP_TOKEN_MISSING');
    });

    it('status, sessions, cooldown, TOTP set-up, refresh and logout answer bodies that validate against the documented schemas', async () => {
      const before = answers.checked;
      const anonymous = await call('get /api/auth/status', 200, api.get('/api/auth/status'));
      expect(anonymous.body).toMatchObject({ authenticated: false, sessionId: null, twoFactorMethods: null });
      const status = await call('get /api/auth/status', 200, api.get('/api/auth/status', { tokens: { access: tokens.access } }));
      expect(status.body).toMatchObject({ authenticated: true, preferredTwoFactorMethod: 'email' });
      const sessions = await call(
        'get /api/users/me/sessions',
        200,
        api.get('/api/users/me/sessions', { tokens: { access: tokens.access } }),
      );
      expect(sessions.body.length).toBeGreaterThan(0);
      await call('get /api/users/me/sessions', 401, api.get('/api/users/me/sessions'));
      await call(
        'get /api/auth/2fa/email/cooldown',
        200,
        api.get('/api/auth/2fa/email/cooldown', { tokens: { access: tokens.access } }),
      );
      // One code per cooldown: a first request may mail one (200), the next one inside the window is refused (429).
      const send = () => api.post('/api/auth/2fa/email/send', undefined, { tokens: { access: tokens.access } });
      const first = await send();
      expectDocumentedAnswer('post /api/auth/2fa/email/send', first);
      const refused = await call('post /api/auth/2fa/email/send', 429, send());
      expect(refused.body.code).toBe('EMAIL_COOLDOWN_ACTIVE');
      const stepUpTokens = { access: tokens.access, stepUp: tokens.stepUp };
      await call('get /api/auth/2fa/totp/setup', 200, api.get('/api/auth/2fa/totp/setup', { tokens: stepUpTokens }));
      await call(
        'post /api/auth/2fa/preferred-method',
        200,
        api.post('/api/auth/2fa/preferred-method', { method: 'email' }, { tokens: stepUpTokens }),
      );
      const missing = await api.request('DELETE', '/api/users/me/sessions/NoSuchSession1', undefined, {
        tokens: { access: tokens.access },
      });
      await call('delete /api/users/me/sessions/{id}', 404, Promise.resolve(missing));
      const refreshed = await call(
        'post /api/auth/refresh',
        200,
        api.post('/api/auth/refresh', {}, { tokens: { refresh: tokens.refresh } }),
      );
      await call('post /api/auth/refresh', 401, api.post('/api/auth/refresh', {}, { tokens: { refresh: tokens.refresh } }));
      tokens.access = refreshed.body.accessToken;
      tokens.refresh = refreshed.body.refreshToken;
      await call('post /api/auth/logout', 200, api.post('/api/auth/logout', undefined, { tokens: { access: tokens.access } }));
      expect(answers.checked - before).toBe(13);
    });

    it('holds no real-looking secret or token (JWT examples are the obvious placeholder)', () => {
      const all = [...strings(doc)];
      expect(all.length).toBeGreaterThan(500);
      const text = JSON.stringify(doc);
      // Base64url runs like the service's random tokens, hex runs, base32 runs (TOTP secrets): placeholders only.
      // Schema names (V1PersonalAccessTokenResponseDto) mix cases and digits too: they are the code's, not secrets.
      const schemaNames = new Set(Object.keys(doc.components.schemas));
      expect(all.flatMap((value) => value.match(RANDOM_LOOKING) ?? []).filter((match) => !schemaNames.has(match))).toEqual([]);
      const hex = all.flatMap((value) => value.match(/[0-9a-fA-F]{32,}/g) ?? []);
      expect(hex.filter((value) => !isObviousPlaceholder(value))).toEqual([]);
      const base32 = all.flatMap((value) => value.match(BASE32_RUN) ?? []);
      expect(base32.length).toBeGreaterThan(0);
      expect(base32.filter((value) => value.replaceAll(BASE32_EXAMPLE, '') !== '' && !isObviousPlaceholder(value))).toEqual([]);
      // Every JWT-looking example is `eyJhbGciOi...`: a header's first bytes and an ellipsis, no payload, no signature.
      const jwts = all.flatMap((value) => value.match(JWT_START) ?? []);
      expect(jwts.length).toBeGreaterThan(5);
      expect(jwts.filter((value) => value !== `${JWT_PLACEHOLDER}...`)).toEqual([]);
      expect(all.filter((value) => /^eyJ/.test(value) && value !== `${JWT_PLACEHOLDER}...`)).toEqual([]);
      // The checks recognise the real thing: the tokens this instance issued match, and none of them is in the document.
      for (const token of [tokens.access, tokens.refresh, tokens.stepUp]) {
        expect(token).toEqual(expect.any(String));
        expect(`x ${token}`.match(RANDOM_LOOKING)?.length ?? 0, 'a real token looks random').toBeGreaterThan(0);
        expect(`x ${token}`.match(JWT_START)).toEqual([token]);
        expect(text).not.toContain(token);
      }
      expect(isObviousPlaceholder(randomBytes(16).toString('hex'))).toBe(false);
      expect(isObviousPlaceholder('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')).toBe(true);
      // Nothing from the running instance (its APP_SECRET) leaks into the document.
      expect(text).not.toContain(t.config.APP_SECRET);
    });
  });
});
