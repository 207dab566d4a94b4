import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { type DestinationStream, type Level, type Logger as Pino, pino } from 'pino';
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

const levelOf = (line: AccessLine): Level =>
  isProbe(line.route) ? (line.status < 400 ? 'debug' : 'warn') : line.status >= 500 ? 'error' : 'info';

/**
 * The access line as pino writes a line of `root` (level label, ISO time, its bindings, then the
 * fields, then msg), put together here: every request writes one, and pino's general path (the
 * log-method hook, the mixin, the field redaction, meant for lines whose content is not known in
 * advance) cost about as much as the rest of the logging in the profile of GET /api/v1/me. None of
 * these fields can hold a credential, so nothing needs redacting.
 */
export function accessLineText(root: Pino, reqId: string, line: AccessLine, level: Level): string {
  const bindings = (root as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  let text = `{"level":"${level}","time":"${new Date().toISOString()}"${bindings},"reqId":${JSON.stringify(reqId)}`;
  text += `,"method":${JSON.stringify(line.method)}`;
  if (line.route !== undefined) text += `,"route":${JSON.stringify(line.route)}`;
  text += `,"status":${line.status},"durationMs":${line.durationMs}`;
  if (line.userId !== undefined) text += `,"userId":${JSON.stringify(line.userId)}`;
  if (line.aborted) text += ',"aborted":true';
  return `${text},"msg":"${line.aborted ? 'request aborted' : 'request completed'}"}\n`;
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
  const stream = (root as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]!;
  const server = app.getHttpServer() as Server;
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const startedAt = performance.now();
    const reqId = requestIdOf(request);
    response.setHeader(REQUEST_ID_HEADER, reqId);
    response.once('close', () => {
      const line = accessLine(request, response, startedAt);
      const level = levelOf(line);
      if (!root.isLevelEnabled(level)) return;
      // Written through the log's stream like any line, outside the request's context: nothing of
      // the request's credentials to look for in it.
      const text = accessLineText(root, reqId, line, level);
      outsideRequestLogContext(() => stream.write(text));
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
