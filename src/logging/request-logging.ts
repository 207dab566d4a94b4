import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Logger as Pino } from 'pino';
import type { AuthenticatedRequest } from '../common/request-context.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import { outsideRequestLogContext, withRequestLogContext } from './request-secrets.js';

/** The routed request behind a Node request, for the access line (route template, authenticated user). */
const routed = new WeakMap<IncomingMessage, FastifyRequest>();

/** What the access line says of a request: which route, how it ended, for whom; never its headers or body. */
export interface AccessLine {
  method: string;
  /** The route's template (`/api/users/me/sessions/:id`); absent when no route matched (the raw path may hold anything). */
  route?: string;
  status: number;
  durationMs: number;
  userId?: string;
  aborted?: true;
}

/** Probes arrive every few seconds from the orchestrator: their successes are debug lines, not the log's bulk. */
const isProbe = (route: string | undefined) => route === '/health' || route?.startsWith('/health/') === true;

export function accessLine(request: IncomingMessage, response: ServerResponse, startedAt: number): AccessLine {
  const fastifyRequest = routed.get(request);
  const line: AccessLine = {
    method: request.method ?? 'GET',
    status: response.statusCode,
    durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
  };
  const route = fastifyRequest?.routeOptions?.url;
  if (route) line.route = route;
  const userId = (fastifyRequest as (FastifyRequest & AuthenticatedRequest) | undefined)?.authenticatedUserId;
  if (userId) line.userId = userId;
  if (!response.writableFinished) line.aborted = true;
  return line;
}

/**
 * Request ids and access lines for every request the server receives, whatever answers it: a
 * route, the not-found handler, a body parser's refusal (415, 400, 413), Fastify's own refusal of
 * a malformed path (no hooks run for those) or the 503 of a shutdown.
 *
 * - The id (X-Request-Id when sane, else a new UUID) is decided before Fastify sees the request,
 *   and set on the Node response, which Fastify's answers merge their headers into.
 * - The request is known to the log while it is handled (an AsyncLocalStorage context): every line
 *   written for it carries its id (pino's mixin) and none of its credentials (password, codes,
 *   tokens, cookies), whatever wrote them (request-secrets.ts).
 * - One access line per request, written once the response is finished or abandoned.
 */
export function registerRequestLogging(app: NestFastifyApplication): void {
  // This application's root, taken now: a test process may hold several applications.
  const root: Pino = PinoLogger.root;
  const server = app.getHttpServer() as Server;
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const startedAt = performance.now();
    const reqId = requestIdOf(request);
    response.setHeader(REQUEST_ID_HEADER, reqId);
    response.once('close', () => {
      const line = accessLine(request, response, startedAt);
      const level = isProbe(line.route) ? (line.status < 400 ? 'debug' : 'warn') : line.status >= 500 ? 'error' : 'info';
      outsideRequestLogContext(() => root[level]({ reqId, ...line }, line.aborted ? 'request aborted' : 'request completed'));
    });
  });

  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, _reply, done) => {
    routed.set(request.raw, request);
    // Fastify carries this context across the reading of the body to the guards, the handler and
    // the exception filters.
    withRequestLogContext(requestIdOf(request.raw), request, done);
  });
}
