import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DomainError } from '../../common/domain-error.js';
import { ErrorCode } from '../../common/domain-error.js';
import { toDomainError } from '../shared/to-domain-error.js';
import { logServerFailure } from '../v1/v1-exception.filter.js';
import { S2_ERRORS } from './s2-errors.js';

export interface S2ErrorBody {
  timestamp: string;
  status: number;
  code: string;
  error: string;
  message: string;
  path: string;
}

/** Where surface 2 answers: its auth routes and the user's session list. */
export const isSurfaceTwoPath = (url: string): boolean => /^\/api\/(auth|users\/me\/sessions)(\/|\?|$)/.test(url);

/** Singularity's error body; the path without its query (which may hold a locale, never a secret, but no need). */
export function s2ErrorBody(error: DomainError, path: string, now: Date): S2ErrorBody {
  const mapping = S2_ERRORS[error.code];
  return {
    timestamp: now.toISOString(),
    status: mapping.status,
    code: mapping.code,
    error: mapping.error,
    message: 'message' in mapping && mapping.message ? mapping.message : error.message,
    path,
  };
}

const logger = new Logger('Auth');

export function sendS2Error(host: ArgumentsHost, error: DomainError): void {
  const request = host.switchToHttp().getRequest<FastifyRequest>();
  const reply = host.switchToHttp().getResponse<FastifyReply>();
  const body = s2ErrorBody(error, request.url.split('?')[0] ?? '/', new Date());
  // HTTP forbids a body on 304: the code travels in a header instead.
  if (body.status === 304) {
    void reply.status(304).header('x-error-code', body.code).send();
    return;
  }
  if (error.code === ErrorCode.RateLimited || error.code === ErrorCode.EmailCooldownActive) {
    const seconds = Number((error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds);
    if (Number.isFinite(seconds) && seconds > 0) void reply.header('retry-after', String(Math.ceil(seconds)));
  }
  void reply.status(body.status).header('content-type', 'application/json; charset=utf-8').send(body);
}

/** Surface 2's wire format for every error. */
@Catch()
export class S2ExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const error = toDomainError(exception);
    logServerFailure(logger, host, error, exception);
    sendS2Error(host, error);
  }
}
