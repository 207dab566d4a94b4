/**
 * Every failure the domain reports carries one of these codes. Each REST surface maps every code
 * to its own wire format (`satisfies Record<ErrorCode, …>`), so adding a code here without a
 * mapping fails to compile.
 */
export enum ErrorCode {
  InvalidParams = 'INVALID_PARAMS',
  ParameterRequired = 'PARAMETER_REQUIRED',
  /** Not JSON (a form, text/plain, …). */
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  AuthenticationRequired = 'AUTHENTICATION_REQUIRED',
  /** A login-only route called by someone already logged in. */
  AlreadyAuthenticated = 'ALREADY_AUTHENTICATED',
  InvalidCredentials = 'INVALID_CREDENTIALS',
  /** The user has no password (an action needs one). */
  NoPasswordProvider = 'NO_PASSWORD_PROVIDER',
  NotAuthorized = 'NOT_AUTHORIZED',
  NotFound = 'NOT_FOUND',
  RateLimited = 'RATE_LIMITED',
  TwoFactorRequired = 'TWO_FACTOR_REQUIRED',
  /** A wrong second-factor code. */
  TwoFactorInvalid = 'TWO_FACTOR_INVALID',
  /** A second-factor code that was right but is past its lifetime. */
  TwoFactorCodeExpired = 'TWO_FACTOR_CODE_EXPIRED',
  /** A request to complete a second factor that carries no code at all. */
  TwoFactorCodeMissing = 'TWO_FACTOR_CODE_MISSING',
  /** A wrong backup (recovery) code, where only a recovery code was asked for. */
  WrongRecoveryCode = 'WRONG_RECOVERY_CODE',
  TwoFactorMaxAttempts = 'TWO_FACTOR_MAX_ATTEMPTS',
  TwoFactorLocked = 'TWO_FACTOR_LOCKED',
  /** The user does not have the method the request names. */
  TwoFactorMethodDisabled = 'TWO_FACTOR_METHOD_DISABLED',
  TwoFactorMethodAlreadyEnabled = 'TWO_FACTOR_METHOD_ALREADY_ENABLED',
  TwoFactorMethodAlreadyDisabled = 'TWO_FACTOR_METHOD_ALREADY_DISABLED',
  /** Switching off the user's only method (Singularity keeps one once a user has one). */
  CannotDisableOnlyTwoFactorMethod = 'CANNOT_DISABLE_ONLY_TWO_FACTOR_METHOD',
  /** A code was mailed less than EMAIL_CODE_RESEND_AFTER_SECONDS ago; details.remainingSeconds. */
  EmailCooldownActive = 'EMAIL_COOLDOWN_ACTIVE',
  /** The code the request exists to send could not be mailed (it stays queued). */
  EmailSendFailed = 'EMAIL_SEND_FAILURE',
  /** The change was made, but the mail that goes with it (a code) could not be sent at once. */
  PostCommitSideEffectFailed = 'POST_COMMIT_SIDE_EFFECT_FAILURE',
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
  // Bearer tokens of surface 2 (JWTs): missing, not readable as ours, or past their lifetime.
  AccessTokenInvalid = 'ACCESS_TOKEN_INVALID',
  AccessTokenExpired = 'ACCESS_TOKEN_EXPIRED',
  RefreshTokenMissing = 'REFRESH_TOKEN_MISSING',
  RefreshTokenInvalid = 'REFRESH_TOKEN_INVALID',
  RefreshTokenExpired = 'REFRESH_TOKEN_EXPIRED',
  StepUpTokenMissing = 'STEP_UP_TOKEN_MISSING',
  StepUpTokenInvalid = 'STEP_UP_TOKEN_INVALID',
  StepUpTokenExpired = 'STEP_UP_TOKEN_EXPIRED',
  TwoFactorTokenMissing = 'TWO_FACTOR_AUTHENTICATION_TOKEN_MISSING',
  TwoFactorTokenInvalid = 'TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID',
  TwoFactorTokenExpired = 'TWO_FACTOR_AUTHENTICATION_TOKEN_EXPIRED',
  TotpSetupTokenInvalid = 'TOTP_SETUP_TOKEN_INVALID',
  TotpSetupTokenExpired = 'TOTP_SETUP_TOKEN_EXPIRED',
  // The service's own failures (the only 5xx answers).
  /** The session behind an access token could not be read. */
  AccessTokenAllowlistReadingFailure = 'ACCESS_TOKEN_ALLOWLIST_READING_FAILURE',
  DatabaseFailure = 'DATABASE_FAILURE',
  /**
   * REDIS_URL is set but Redis does not answer: a route that checks a code or password refuses
   * (503) rather than run without the limit shared by every instance. Nothing was checked or counted.
   */
  RateLimitUnavailable = 'RATE_LIMIT_UNAVAILABLE',
  /** A stored secret (TOTP secret, outbox data) could not be decrypted: wrong key or tampered. */
  DatabaseEncryptionFailure = 'DATABASE_ENCRYPTION_FAILURE',
  /** A stored user record that breaks the service's invariants (say, a password hash it cannot read). */
  InvalidUserDocument = 'INVALID_USER_DOCUMENT',
  /** A user that cannot be shown as a principal (say, one without any email address). */
  InvalidPrincipalDocument = 'INVALID_PRINCIPAL_DOCUMENT',
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
