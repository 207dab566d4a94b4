/**
 * Every failure the domain reports carries one of these codes. Each REST surface maps every code
 * to its own wire format (`satisfies Record<ErrorCode, …>`), so adding a code here without a
 * mapping fails to compile.
 */
export enum ErrorCode {
  InvalidParams = 'INVALID_PARAMS',
  ParameterRequired = 'PARAMETER_REQUIRED',
  AuthenticationRequired = 'AUTHENTICATION_REQUIRED',
  InvalidCredentials = 'INVALID_CREDENTIALS',
  NotAuthorized = 'NOT_AUTHORIZED',
  NotFound = 'NOT_FOUND',
  RateLimited = 'RATE_LIMITED',
  TwoFactorRequired = 'TWO_FACTOR_REQUIRED',
  TwoFactorInvalid = 'TWO_FACTOR_INVALID',
  TwoFactorMaxAttempts = 'TWO_FACTOR_MAX_ATTEMPTS',
  TwoFactorLocked = 'TWO_FACTOR_LOCKED',
  EmailSendFailed = 'EMAIL_SEND_FAILED',
  InvalidEmail = 'INVALID_EMAIL',
  FieldUnavailable = 'FIELD_UNAVAILABLE',
  PasswordPolicy = 'PASSWORD_POLICY',
  InvalidToken = 'INVALID_TOKEN',
  NoVerifiedEmail = 'NO_VERIFIED_EMAIL',
  UserNotFound = 'USER_NOT_FOUND',
  TokenAlreadyExists = 'TOKEN_ALREADY_EXISTS',
  TokenDoesNotExist = 'TOKEN_DOES_NOT_EXIST',
  InvalidUsername = 'INVALID_USERNAME',
  /** A reserved username (admin, system, …). */
  UsernameBlocked = 'USERNAME_BLOCKED',
  /** A display name that is empty once trimmed, or holds markup characters. */
  InvalidName = 'INVALID_NAME',
  /** A one-time code (TOTP set-up, challenge) that does not match. */
  InvalidCode = 'INVALID_CODE',
  TotpAlreadyEnabled = 'TOTP_ALREADY_ENABLED',
  TotpNotEnabled = 'TOTP_NOT_ENABLED',
  /** TWO_FACTOR_REQUIRED_ROLES: the user's last second factor cannot be switched off. */
  TwoFactorRequiredByPolicy = 'TWO_FACTOR_REQUIRED_BY_POLICY',
  ChallengeNotFound = 'CHALLENGE_NOT_FOUND',
  ChallengeExpired = 'CHALLENGE_EXPIRED',
  /** The challenge's second factor is not the one the request needs (say, an email resend for a TOTP challenge). */
  InvalidChallengeMethod = 'INVALID_CHALLENGE_METHOD',
  Internal = 'INTERNAL',
}

/** What a caller may be told beyond the message: named facts, or a list (the password policy's broken rules). */
export type DomainErrorDetails = Record<string, unknown> | readonly Record<string, unknown>[];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Safe to show to the caller: never put a secret here. */
    readonly details?: DomainErrorDetails,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const isDomainError = (value: unknown): value is DomainError => value instanceof DomainError;
