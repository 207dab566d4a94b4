import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { isSurfaceTwoPath, s2ErrorBody } from './auth/s2-exception.filter.js';
import { v1ErrorBody } from './v1/v1-exception.filter.js';

/**
 * Fastify's own refusals before routing (a path that is not valid percent-encoding, a path
 * parameter past its maximum length): answered in the path's surface's format, never Fastify's,
 * which repeats the whole path (a token in it included).
 */
export function answerFrameworkError(_error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const refused = new DomainError(ErrorCode.InvalidParams, 'The request path is not valid');
  const url = request.url ?? '/';
  if (isSurfaceTwoPath(url)) {
    // The surface's prefix, not the path: a path Fastify refused may hold anything (a token pasted in it).
    const prefix = /^\/api\/(auth|users\/me\/sessions)/.exec(url)?.[0] ?? '/api/auth';
    const body = s2ErrorBody(refused, prefix, new Date());
    void reply.status(body.status).header('content-type', 'application/json; charset=utf-8').send(body);
    return;
  }
  const wire = v1ErrorBody(refused);
  void reply.status(wire.status).header('content-type', 'application/json; charset=utf-8').send(wire.body);
}
