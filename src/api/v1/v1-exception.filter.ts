import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { V1_ERRORS, V1_LOGIN_ERRORS, type V1ErrorMapping } from './v1-errors.js';

interface WireError {
  status: number;
  body: Record<string, unknown>;
}

/** Turns anything thrown into a domain error: framework errors keep their 4xx meaning, the rest is internal. */
export function toDomainError(exception: unknown): { error: DomainError; status?: number } {
  if (exception instanceof DomainError) return { error: exception };
  const status =
    exception instanceof HttpException
      ? exception.getStatus()
      : typeof (exception as { statusCode?: unknown })?.statusCode === 'number'
        ? (exception as { statusCode: number }).statusCode
        : 500;
  if (status === 404) return { error: new DomainError(ErrorCode.NotFound, 'Not found'), status };
  if (status >= 400 && status < 500) {
    // Parser and framework messages never echo the request's values.
    const message = status === 413 ? 'The request body is too large' : 'The request is not valid';
    return { error: new DomainError(ErrorCode.InvalidParams, message), status };
  }
  return { error: new DomainError(ErrorCode.Internal, 'Internal server error'), status: 500 };
}

export function v1ErrorBody(error: DomainError, statusOverride?: number): WireError {
  const mapping: V1ErrorMapping = V1_ERRORS[error.code];
  if (error.code === ErrorCode.AuthenticationRequired) {
    return { status: mapping.status, body: { status: 'error', message: mapping.message } };
  }
  if (error.code === ErrorCode.RateLimited) {
    const wait = Number((error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 60);
    return {
      status: 429,
      body: {
        success: false,
        error: `Error, too many requests. Please slow down. You must wait ${wait} seconds before trying this endpoint again. [error-too-many-requests]`,
      },
    };
  }
  const message = mapping.message ?? error.message;
  const body: Record<string, unknown> = {
    success: false,
    error: `${message} [${mapping.errorType}]`,
    errorType: mapping.errorType,
  };
  if (error.details) body.details = error.details;
  return { status: statusOverride ?? mapping.status, body };
}

export function v1LoginErrorBody(error: DomainError): WireError | null {
  const mapping = (V1_LOGIN_ERRORS as Partial<Record<ErrorCode, { error: string; message: string }>>)[error.code];
  if (!mapping) return null;
  const body: Record<string, unknown> = { status: 'error', ...mapping };
  if (error.details && error.code !== ErrorCode.InvalidCredentials) body.details = error.details;
  return { status: 401, body };
}

const logger = new Logger('V1');

function send(host: ArgumentsHost, wire: WireError): void {
  const reply = host.switchToHttp().getResponse<FastifyReply>();
  void reply.status(wire.status).header('content-type', 'application/json; charset=utf-8').send(wire.body);
}

function logInternal(host: ArgumentsHost, exception: unknown): void {
  const request = host.switchToHttp().getRequest<FastifyRequest>();
  // Method and path only: query strings and bodies may hold tokens and codes.
  logger.error(`${request.method} ${request.routeOptions?.url ?? request.url.split('?')[0]} failed`, (exception as Error)?.stack);
}

/** Surface 1's wire format for every error. */
@Catch()
export class V1ExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const { error, status } = toDomainError(exception);
    if (error.code === ErrorCode.Internal) logInternal(host, exception);
    send(host, v1ErrorBody(error, status));
  }
}

/** `POST /api/v1/login`: credential and second-factor failures in the login shape (401). */
@Catch()
export class V1LoginExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const { error, status } = toDomainError(exception);
    if (error.code === ErrorCode.Internal) logInternal(host, exception);
    send(host, v1LoginErrorBody(error) ?? v1ErrorBody(error, status));
  }
}
