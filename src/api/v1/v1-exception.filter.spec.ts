import { BadRequestException, NotFoundException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { TwoFactorError } from '../../two-factor/two-factor.error.js';
import { V1_ERRORS } from './v1-errors.js';
import { toDomainError, v1ErrorBody, v1LoginErrorBody } from './v1-exception.filter.js';

describe('surface 1 error format', () => {
  it('maps every domain code', () => {
    for (const code of Object.values(ErrorCode)) expect(V1_ERRORS[code]).toBeDefined();
  });

  it("formats the handshake's neutral state as Rocket.Chat's details", () => {
    const state = {
      method: 'email' as const,
      available: ['totp' as const, 'email' as const],
      addresses: ['alice@example.com'],
      username: 'alice',
      email: { sent: false, outstanding: 2, expiresAt: new Date('2030-01-01T00:10:00Z'), cooldownSeconds: 30 },
    };
    expect(v1ErrorBody(new TwoFactorError(ErrorCode.TwoFactorRequired, 'ignored', state))).toEqual({
      status: 400,
      body: {
        success: false,
        error: 'TOTP Required [totp-required]',
        errorType: 'totp-required',
        details: {
          method: 'email',
          codeGenerated: false,
          codeCount: 2,
          codeExpires: '2030-01-01T00:10:00.000Z',
          emailOrUsername: 'alice@example.com',
          availableMethods: ['totp', 'email'],
        },
      },
    });
    // A late code is a wrong one to Rocket.Chat; a backup code is given under its totp method.
    expect(
      v1ErrorBody(new TwoFactorError(ErrorCode.TwoFactorCodeExpired, 'x', { ...state, method: 'backup', email: undefined })),
    ).toEqual({
      status: 400,
      body: {
        success: false,
        error: 'TOTP Invalid [totp-invalid]',
        errorType: 'totp-invalid',
        details: {
          method: 'totp',
          codeGenerated: false,
          emailOrUsername: 'alice@example.com',
          availableMethods: ['totp', 'email'],
        },
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
    const state = {
      method: 'totp' as const,
      available: ['totp' as const],
      addresses: [],
      username: 'bob',
      challengeId: 'c'.repeat(64),
    };
    expect(v1LoginErrorBody(new TwoFactorError(ErrorCode.TwoFactorInvalid, 'x', state))).toEqual({
      status: 401,
      body: {
        status: 'error',
        error: 'totp-invalid',
        message: 'TOTP Invalid',
        details: {
          method: 'totp',
          codeGenerated: false,
          emailOrUsername: 'bob',
          availableMethods: ['totp'],
          challengeId: 'c'.repeat(64),
        },
      },
    });
    expect(v1LoginErrorBody(new DomainError(ErrorCode.InvalidParams, 'x'))).toBeNull();
  });

  it('turns framework errors into domain errors without their messages', () => {
    expect(toDomainError(new NotFoundException('Cannot POST /secret?token=abc')).code).toBe(ErrorCode.NotFound);
    const bad = toDomainError(new BadRequestException('password hunter2 is wrong'));
    expect(bad.code).toBe(ErrorCode.InvalidParams);
    expect(bad.message).not.toContain('hunter2');
    expect(toDomainError({ statusCode: 413, message: 'too large' })).toMatchObject({ code: ErrorCode.PayloadTooLarge });
    expect(v1ErrorBody(toDomainError({ statusCode: 413 })).status).toBe(413);
    expect(toDomainError(new Error('db password leaked in message'))).toMatchObject({
      code: ErrorCode.Internal,
      message: 'Internal server error',
    });
    expect(
      toDomainError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })),
    ).toMatchObject({
      code: ErrorCode.DatabaseFailure,
    });
    // A 5xx body says nothing of the failure.
    expect(v1ErrorBody(new DomainError(ErrorCode.DatabaseFailure, 'relation "users" does not exist', { sql: 'x' }))).toEqual({
      status: 500,
      body: { success: false, error: 'Internal server error [error-internal]', errorType: 'error-internal' },
    });
  });
});
