import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { createValidationPipe } from './api/shared/validation-pipe.js';
import { S2_SECURITY } from './api/auth/s2-openapi.js';
import { registerCookieSupport } from './auth/tokens/token-cookies.js';

class BodyShapeError extends BadRequestException {}

/**
 * Keys that name a property every object inherits (`__proto__`, `constructor`, `toString`, …).
 * JSON.parse keeps them as own keys; copied onto a DTO by class-transformer, `__proto__` replaces
 * the DTO's prototype, and the others shadow methods the code calls (`String(x)` on an object
 * whose `toString` is a string throws). Refused wherever they appear, before any code sees them.
 */
const PROTOTYPE_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** A lone UTF-16 surrogate: no valid text holds one, and encoders (encodeURI, PostgreSQL) throw on it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a parsed value cannot be handed to the application, or null. Strings with NUL (PostgreSQL
 * refuses them in text columns) or lone surrogates are refused here, once for every field of every
 * route, instead of surfacing later as a database or encoder exception.
 */
export function unsafeValueReason(value: unknown, depth = 0): string | null {
  if (depth > 32) return 'is nested too deeply';
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return 'holds a NUL character';
    if (LONE_SURROGATE.test(value)) return 'holds an unpaired surrogate';
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  for (const [key, item] of Object.entries(value)) {
    if (PROTOTYPE_KEYS.has(key)) return `holds the reserved key ${JSON.stringify(key)}`;
    const keyProblem = unsafeValueReason(key);
    if (keyProblem) return `has a key that ${keyProblem}`;
    const problem = unsafeValueReason(item, depth + 1);
    if (problem) return problem;
  }
  return null;
}

/** The body's problem as the client sees it: what is wrong, never the value. */
const refuse = (reason: string) => new BodyShapeError(`The body ${reason}`);

/**
 * Everything the HTTP application needs beyond its modules; main.ts and the end-to-end tests
 * both call it, so the tests exercise the real set-up.
 */
export async function configureApp(app: NestFastifyApplication): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  // Only JSON reaches the API (and form posts only the verification page): Fastify's own parsers
  // (text/plain among them) would let other bodies through to routes that take no parameters.
  fastify.removeAllContentTypeParsers();
  // Surface 2's tokens travel in cookies too.
  await registerCookieSupport(fastify);
  // An empty JSON body is a request without parameters (Rocket.Chat clients send those);
  // the top level must be an object.
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return done(refuse('is not valid JSON'), undefined);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return done(refuse('must be a JSON object'), undefined);
    }
    const problem = unsafeValueReason(parsed);
    if (problem) return done(refuse(problem), undefined);
    return done(null, parsed);
  });
  // The verification page's confirm button posts a form. The API itself takes JSON only, so a
  // cross-site HTML form cannot post to it (no login CSRF).
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (request.url.startsWith('/api/')) {
      return done(new UnsupportedMediaTypeException('The API accepts application/json bodies only'), undefined);
    }
    const fields = Object.fromEntries(new URLSearchParams(String(body)));
    const problem = unsafeValueReason(fields);
    if (problem) return done(refuse(problem), undefined);
    done(null, fields);
  });
  // Query strings and path parameters get the same scrutiny as bodies.
  fastify.addHook('preValidation', (request, _reply, done) => {
    const problem = unsafeValueReason(request.query) ?? unsafeValueReason(request.params);
    done(problem ? new BodyShapeError(`The request ${problem}`) : undefined);
  });

  app.useGlobalPipes(createValidationPipe());

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Two-factor authentication service')
      .setDescription(
        [
          'Surface 1 (`/api/v1`) is Rocket.Chat-compatible: authenticated calls carry `X-User-Id` and `X-Auth-Token` ' +
            '(from `login`); success is 200 `{"success":true, …}`, failure 400 ' +
            '`{"success":false,"error":"<message> [<errorType>]","errorType":…,"details"?}`.',
          '**2FA handshake** (routes listing `x-2fa-code`): without a code the answer is 400 `totp-required` with ' +
            '`details: {method, codeGenerated, emailOrUsername, availableMethods}` (for `email`, a code is mailed). ' +
            'Repeat the same request with headers `x-2fa-method` (`totp`, `email`, or `password` when no method is ' +
            'enabled) and `x-2fa-code` (the authenticator or backup code, the emailed code, or the hex SHA-256 of the ' +
            'password). A wrong code gives `totp-invalid`, too many `totp-max-attempts`. A right code is remembered for ' +
            'the login token and client for REMEMBER_2FA_SECONDS, except on routes that ask every time.',
          '`login` answers 401 `totp-required` with a `details.challengeId`: repeat the login with the code, or finish ' +
            'it with `twoFactorChallenges.verifyChallenge`.',
          'Surface 2 (`/api/auth`, `/api/users/me/sessions`) is Singularity-compatible: access, refresh, step-up and ' +
            'two-factor JWTs, each as an HTTP-only cookie or a header (the header wins). Every error is ' +
            '`{"timestamp","status","code","error","message","path"}`; a 304 carries its code in `X-Error-Code`.',
          'See README.md ("The two-factor flow", "The token surface") for walk-throughs and the configuration.',
        ].join('\n\n'),
      )
      .setVersion('0.1.0')
      .addCookieAuth('access_token', { type: 'apiKey', in: 'cookie', name: 'access_token' }, S2_SECURITY.accessCookie)
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token; on /refresh, the refresh token' },
        S2_SECURITY.bearer,
      )
      .addCookieAuth('refresh_token', { type: 'apiKey', in: 'cookie', name: 'refresh_token' }, S2_SECURITY.refreshCookie)
      .addCookieAuth('step_up_token', { type: 'apiKey', in: 'cookie', name: 'step_up_token' }, S2_SECURITY.stepUpCookie)
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Step-Up-Token' }, S2_SECURITY.stepUpHeader)
      .addCookieAuth(
        'two_factor_authentication_token',
        { type: 'apiKey', in: 'cookie', name: 'two_factor_authentication_token' },
        S2_SECURITY.twoFactorCookie,
      )
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Two-Factor-Authentication-Token' }, S2_SECURITY.twoFactorHeader)
      .build(),
  );
  document.components = {
    ...document.components,
    schemas: {
      ...document.components?.schemas,
      S2Error: {
        type: 'object',
        description: "Surface 2's error body (Singularity's ErrorResponse)",
        required: ['timestamp', 'status', 'code', 'error', 'message', 'path'],
        properties: {
          timestamp: { type: 'string', format: 'date-time' },
          status: { type: 'integer' },
          code: { type: 'string', description: 'The error code (seed 001)' },
          error: { type: 'string', description: 'A short name of the failure' },
          message: { type: 'string' },
          path: { type: 'string' },
        },
      },
    },
  };
  fastify.get('/api/openapi.json', (_request, reply) => {
    void reply.send(document);
  });
}
