import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { ENABLEABLE_METHODS } from '../../../two-factor/two-factor.types.js';
import { ApiConstant, ApiDateTime } from '../../shared/openapi-properties.js';
import { V1_EXAMPLE, V1_EXAMPLE_HANDSHAKE_DETAILS } from '../v1-examples.js';

/*
 * Surface 1's error bodies (v1-exception.filter.ts renders them). Three shapes: the general
 * `{success: false, error, errorType?, details?}`, the bare 401 of a missing login, and login's own
 * `{status: "error", error, message}`.
 */

/** Where the user's second factor stands (totp-required, totp-invalid, totp-max-attempts). */
export class V1TwoFactorDetailsDto {
  @ApiProperty({
    enum: ['totp', 'email', 'password'],
    description: 'The method to answer with in x-2fa-method (`password`: a user without a method)',
    example: V1_EXAMPLE_HANDSHAKE_DETAILS.method,
  })
  method: 'totp' | 'email' | 'password';

  @ApiProperty({ description: 'An email code was mailed with this answer', example: true })
  codeGenerated: boolean;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'totp-required inside the resend window: how many mailed codes are still valid',
    example: 1,
  })
  codeCount?: number;

  @ApiDateTime({
    description: 'totp-required inside the resend window: when the newest mailed code expires',
    example: '2025-01-01T12:10:00.000Z',
    required: false,
  })
  codeExpires?: string;

  @ApiProperty({ description: 'Where the code went: the primary address, else the username', example: V1_EXAMPLE.email })
  emailOrUsername: string;

  @ApiProperty({ enum: ENABLEABLE_METHODS, isArray: true, description: "The user's enabled methods", example: ['email'] })
  availableMethods: string[];

  @ApiDateTime({
    description: 'Locked after too many consecutive failures: until when',
    example: '2025-01-01T12:05:00.000Z',
    required: false,
  })
  lockedUntil?: string;

  @ApiPropertyOptional({
    description: 'Login only: the challenge to finish with twoFactorChallenges.verifyChallenge',
    example: V1_EXAMPLE.challengeId,
  })
  challengeId?: string;
}

/** totp-max-attempts outside the handshake (a challenge, a code request): only the end of the lock. */
export class V1LockDetailsDto {
  @ApiDateTime({ description: 'Until when the second factor is locked', example: '2025-01-01T12:05:00.000Z' })
  lockedUntil: string;
}

/** error-field-unavailable: which field is taken. */
export class V1FieldDetailsDto {
  @ApiProperty({ enum: ['username', 'email'], example: 'username' })
  field: 'username' | 'email';
}

/** A refusal to retry later (error-service-unavailable): how long to wait. */
export class V1RetryDetailsDto {
  @ApiProperty({ type: 'integer', minimum: 1, description: 'Seconds to wait (also in Retry-After)', example: 5 })
  retryAfterSeconds: number;
}

/** error-password-policy-not-met: one broken rule, as Rocket.Chat's password policy lists them. */
export class V1PasswordPolicyRuleDto {
  @ApiProperty({ example: 'error-password-policy-not-met-minLength' })
  error: string;

  @ApiProperty({ example: 'The password does not meet the minimum length password policy.' })
  message: string;

  @ApiProperty({ type: 'integer', example: 8 })
  limit: number;
}

@ApiExtraModels(V1TwoFactorDetailsDto, V1LockDetailsDto, V1FieldDetailsDto, V1RetryDetailsDto, V1PasswordPolicyRuleDto)
export class V1ErrorResponseDto {
  @ApiConstant(false)
  success: false;

  @ApiProperty({ description: 'The message, then the errorType in brackets', example: 'TOTP Required [totp-required]' })
  error: string;

  @ApiPropertyOptional({ description: "Rocket.Chat's error type (absent from a 429)", example: 'totp-required' })
  errorType?: string;

  @ApiPropertyOptional({
    description:
      'What the errorType carries: the second factor (totp-*), the lock (totp-max-attempts outside the handshake), ' +
      'the field taken (error-field-unavailable), the wait (error-service-unavailable) or the broken rules ' +
      '(error-password-policy-not-met)',
    anyOf: [
      { $ref: getSchemaPath(V1TwoFactorDetailsDto) },
      { $ref: getSchemaPath(V1LockDetailsDto) },
      { $ref: getSchemaPath(V1FieldDetailsDto) },
      { $ref: getSchemaPath(V1RetryDetailsDto) },
      { type: 'array', items: { $ref: getSchemaPath(V1PasswordPolicyRuleDto) } },
    ],
  })
  details?: object;
}

/** A missing or wrong X-User-Id / X-Auth-Token: Rocket.Chat's bare 401. */
export class V1UnauthorizedResponseDto {
  @ApiConstant('error')
  status: 'error';

  @ApiProperty({ example: 'You must be logged in to do this.' })
  message: string;
}

/** `POST /login`'s credential and second-factor failures (401). */
export class V1LoginErrorResponseDto {
  @ApiConstant('error')
  status: 'error';

  @ApiProperty({ description: '`Unauthorized`, or the errorType of the second factor', example: 'totp-required' })
  error: string;

  @ApiProperty({ example: 'TOTP Required' })
  message: string;

  @ApiPropertyOptional({ type: () => V1TwoFactorDetailsDto, description: 'With a totp-* error' })
  details?: V1TwoFactorDetailsDto;
}
