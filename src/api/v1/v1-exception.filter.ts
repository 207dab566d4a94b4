import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { isTwoFactorError, type TwoFactorError } from '../../two-factor/two-factor.error.js';
import type { TwoFactorState } from '../../two-factor/two-factor.types.js';
import { SERVER_FAILURES, toDomainError } from '../shared/to-domain-error.js';
import { V1_ERRORS, V1_HANDSHAKE_ERRORS_WIRE, V1_LOGIN_ERRORS, type V1ErrorMapping } from './v1-errors.js';

export { toDomainError };

interface WireError {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Rocket.Chat's `details` of totp-required / totp-invalid / totp-max-attempts. A backup code is
 * given under Rocket.Chat's `totp` method, so that is the method named for it.
 */
export function v1HandshakeDetails(error: TwoFactorError): Record<string, unknown> {
  const state: TwoFactorState = error.state;
  const details: Record<string, unknown> = {
    method: state.method === 'backup' ? 'totp' : state.method,
    codeGenerated: state.email?.sent ?? false,
  };
  // Inside the resend window Rocket.Chat tells how many codes are out and until when.
  if (error.code === ErrorCode.TwoFactorRequired && state.email && !state.email.sent) {
    details.codeCount = state.email.outstanding;
    if (state.email.expiresAt) details.codeExpires = state.email.expiresAt.toISOString();
  }
  details.emailOrUsername = state.addresses[0] ?? state.username;
  details.availableMethods = state.available;
  if (state.lockedUntil) details.lockedUntil = state.lockedUntil.toISOString();
  if (state.challengeId) details.challengeId = state.challengeId;
  return details;
}

export function v1ErrorBody(error: DomainError): WireError {
  const mapping: V1ErrorMapping = V1_ERRORS[error.code];
  if (mapping === V1_ERRORS[ErrorCode.AuthenticationRequired]) {
    return { status: 401, body: { status: 'error', message: 'You must be logged in to do this.' } };
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
  if (isTwoFactorError(error)) {
    const wire = V1_HANDSHAKE_ERRORS_WIRE[error.code as keyof typeof V1_HANDSHAKE_ERRORS_WIRE];
    return {
      status: 400,
      body: {
        success: false,
        error: `${wire.message} [${wire.errorType}]`,
        errorType: wire.errorType,
        details: v1HandshakeDetails(error),
      },
    };
  }
  const message = mapping.message ?? error.message;
  const body: Record<string, unknown> = {
    success: false,
    error: `${message} [${mapping.errorType}]`,
    errorType: mapping.errorType,
  };
  if (error.details && !SERVER_FAILURES.has(error.code)) body.details = error.details;
  return { status: mapping.status, body };
}

export function v1LoginErrorBody(error: DomainError): WireError | null {
  const mapping = V1_LOGIN_ERRORS[error.code];
  if (!mapping) return null;
  const body: Record<string, unknown> = { status: 'error', ...mapping };
  if (isTwoFactorError(error)) body.details = v1HandshakeDetails(error);
  return { status: 401, body };
}

const logger = new Logger('V1');

function send(host: ArgumentsHost, wire: WireError): void {
  const reply = host.switchToHttp().getResponse<FastifyReply>();
  void reply.status(wire.status).header('content-type', 'application/json; charset=utf-8').send(wire.body);
}

/**
 * The service's own failures get a log line with the stack: method and route template only (paths,
 * query strings and bodies may hold secrets). The logger scrubs the stack's message too.
 */
export function logServerFailure(logger: Logger, host: ArgumentsHost, error: DomainError, exception: unknown): void {
  if (!SERVER_FAILURES.has(error.code)) return;
  const request = host.switchToHttp().getRequest<FastifyRequest>();
  const route = request.routeOptions?.url ?? '(no route)';
  logger.error(`${request.method} ${route} failed (${error.code})`, (exception as Error)?.stack);
}

/** Surface 1's wire format for every error. */
@Catch()
export class V1ExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const error = toDomainError(exception);
    logServerFailure(logger, host, error, exception);
    send(host, v1ErrorBody(error));
  }
}

/** `POST /api/v1/login`: credential and second-factor failures in the login shape (401). */
@Catch()
export class V1LoginExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const error = toDomainError(exception);
    logServerFailure(logger, host, error, exception);
    send(host, v1LoginErrorBody(error) ?? v1ErrorBody(error));
  }
}
