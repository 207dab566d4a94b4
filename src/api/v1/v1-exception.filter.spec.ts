import { BadRequestException, NotFoundException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { V1_ERRORS } from './v1-errors.js';
import { toDomainError, v1ErrorBody, v1LoginErrorBody } from './v1-exception.filter.js';

describe('surface 1 error format', () => {
  it('maps every domain code', () => {
    for (const code of Object.values(ErrorCode)) expect(V1_ERRORS[code]).toBeDefined();
  });

  it('formats a failure as Rocket.Chat does, with details', () => {
    const error = new DomainError(ErrorCode.TwoFactorRequired, 'ignored', { method: 'email', codeGenerated: true });
    expect(v1ErrorBody(error)).toEqual({
      status: 400,
      body: {
        success: false,
        error: 'TOTP Required [totp-required]',
        errorType: 'totp-required',
        details: { method: 'email', codeGenerated: true },
      },
    });
    expect(v1ErrorBody(new DomainError(ErrorCode.EmailSendFailed, 'Mail is down'))).toEqual({
      status: 503,
      body: { success: false, error: 'Mail is down [error-email-send-failed]', errorType: 'error-email-send-failed' },
    });
  });

  it('uses the fixed 401 and 429 bodies', () => {
    expect(v1ErrorBody(new DomainError(ErrorCode.AuthenticationRequired, 'x'))).toEqual({
      status: 401,
      body: { status: 'error', message: 'You must be logged in to do this.' },
    });
    expect(v1ErrorBody(new DomainError(ErrorCode.RateLimited, 'x', { retryAfterSeconds: 42 }))).toEqual({
      status: 429,
      body: {
        success: false,
        error:
          'Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]',
      },
    });
  });

  it('answers login failures in the login shape and hides nothing else', () => {
    expect(v1LoginErrorBody(new DomainError(ErrorCode.InvalidCredentials, 'x'))).toEqual({
      status: 401,
      body: { status: 'error', error: 'Unauthorized', message: 'Unauthorized' },
    });
    expect(v1LoginErrorBody(new DomainError(ErrorCode.TwoFactorInvalid, 'x', { method: 'email' }))).toEqual({
      status: 401,
      body: { status: 'error', error: 'totp-invalid', message: 'TOTP Invalid', details: { method: 'email' } },
    });
    expect(v1LoginErrorBody(new DomainError(ErrorCode.InvalidParams, 'x'))).toBeNull();
  });

  it('turns framework errors into domain errors without their messages', () => {
    expect(toDomainError(new NotFoundException('Cannot POST /secret?token=abc')).error.code).toBe(ErrorCode.NotFound);
    const bad = toDomainError(new BadRequestException('password hunter2 is wrong'));
    expect(bad.error.code).toBe(ErrorCode.InvalidParams);
    expect(bad.error.message).not.toContain('hunter2');
    expect(toDomainError({ statusCode: 413, message: 'too large' })).toMatchObject({
      status: 413,
      error: { code: ErrorCode.InvalidParams },
    });
    expect(toDomainError(new Error('db password leaked in message'))).toMatchObject({
      status: 500,
      error: { code: ErrorCode.Internal, message: 'Internal server error' },
    });
  });
});
