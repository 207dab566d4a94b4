import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { createValidationPipe } from './api/shared/validation-pipe.js';
import { registerApiDocs } from './api/api-docs.routes.js';
import { buildOpenApiDocument } from './api/openapi-document.js';
import { registerCookieSupport } from './auth/tokens/token-cookies.js';
import { registerRequestLogging } from './logging/request-logging.js';
import { installMetrics } from './metrics/install-metrics.js';

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
  app.useLogger(app.get(Logger));
  // First, so that every later hook and every refusal runs with the request's id.
  registerRequestLogging(app);
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

  // The OpenAPI document of both surfaces (api/openapi-document.ts).
  const document = buildOpenApiDocument(app);
  // The request metrics hook, and GET /metrics (documented) unless METRICS_PORT serves it apart.
  installMetrics(app, document);
  // GET /api/openapi.json and the browsable page at GET /docs (after every addition to the document).
  registerApiDocs(fastify, document);
}
