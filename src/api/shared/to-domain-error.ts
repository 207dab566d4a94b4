import { HttpException } from '@nestjs/common';
import { QueryFailedError, TypeORMError } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/domain-error.js';

/** Errors of the database driver that are not a query's fault: connection refused, reset, terminated. */
const isDatabaseError = (error: unknown): boolean =>
  error instanceof QueryFailedError ||
  error instanceof TypeORMError ||
  (typeof (error as { code?: unknown })?.code === 'string' &&
    /^(ECONNREFUSED|ECONNRESET|EPIPE|57P0[1-3]|08\d{3})$/.test((error as { code: string }).code)) ||
  /Connection terminated|connection error|Client has encountered a connection error/i.test(String((error as Error)?.message));

/**
 * Anything thrown, as a domain error: framework errors keep their 4xx meaning (with a message of
 * our own: theirs may quote the request), database errors are DatabaseFailure, the rest Internal.
 */
export function toDomainError(exception: unknown): DomainError {
  if (exception instanceof DomainError) return exception;
  const status =
    exception instanceof HttpException
      ? exception.getStatus()
      : typeof (exception as { statusCode?: unknown })?.statusCode === 'number'
        ? (exception as { statusCode: number }).statusCode
        : 500;
  if (status === 404) return new DomainError(ErrorCode.NotFound, 'Not found');
  if (status === 413) return new DomainError(ErrorCode.PayloadTooLarge, 'The request body is too large');
  if (status === 415) return new DomainError(ErrorCode.UnsupportedMediaType, 'The request body must be JSON');
  if (status >= 400 && status < 500) return new DomainError(ErrorCode.InvalidParams, 'The request is not valid');
  if (isDatabaseError(exception)) return new DomainError(ErrorCode.DatabaseFailure, 'The database could not be reached');
  return new DomainError(ErrorCode.Internal, 'Internal server error');
}

/** The codes that answer 5xx: the service's own failures, worth a log line with the stack. */
export const SERVER_FAILURES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.Internal,
  ErrorCode.DatabaseFailure,
  ErrorCode.DatabaseEncryptionFailure,
  ErrorCode.InvalidUserDocument,
  ErrorCode.InvalidPrincipalDocument,
  ErrorCode.AccessTokenAllowlistReadingFailure,
]);
