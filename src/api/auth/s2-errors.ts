import { ErrorCode } from '../../common/domain-error.js';

export interface S2ErrorMapping {
  status: number;
  /** Singularity's error code (seed 001 where it names one). */
  code: string;
  /** The `error` field: a short name of the failure, as Singularity's exception class names read. */
  error: string;
  /** Replaces the domain message where Singularity's text is the better one. */
  message?: string;
}

const FAILURE = (code: string, error: string, message: string): S2ErrorMapping => ({ status: 500, code, error, message });

/**
 * Every domain code in Singularity's terms. The 500s are seed 001's (the service's own failures);
 * nothing else answers 500. Codes Singularity does not have (validation, rate limits, lockout)
 * follow its naming.
 */
export const S2_ERRORS = {
  [ErrorCode.InvalidParams]: { status: 400, code: 'INVALID_REQUEST', error: 'InvalidRequest' },
  [ErrorCode.ParameterRequired]: { status: 400, code: 'INVALID_REQUEST', error: 'InvalidRequest' },
  [ErrorCode.UnsupportedMediaType]: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', error: 'UnsupportedMediaType' },
  [ErrorCode.PayloadTooLarge]: { status: 413, code: 'PAYLOAD_TOO_LARGE', error: 'PayloadTooLarge' },
  [ErrorCode.AuthenticationRequired]: {
    status: 401,
    code: 'AUTHENTICATION_REQUIRED',
    error: 'AuthenticationRequired',
    message: 'User is not authenticated.',
  },
  [ErrorCode.AlreadyAuthenticated]: {
    status: 304,
    code: 'ALREADY_AUTHENTICATED',
    error: 'AlreadyAuthenticated',
    message: 'Principal is already authenticated.',
  },
  [ErrorCode.InvalidCredentials]: {
    status: 401,
    code: 'INVALID_CREDENTIALS',
    error: 'InvalidCredentials',
    message: 'Invalid credentials.',
  },
  [ErrorCode.NoPasswordProvider]: {
    status: 400,
    code: 'NO_PASSWORD_PROVIDER',
    error: 'NoPasswordProvider',
    message: 'The user needs to set a password in to perform this action.',
  },
  [ErrorCode.NotAuthorized]: { status: 403, code: 'ROLE_REQUIRED', error: 'RoleRequired' },
  [ErrorCode.NotFound]: { status: 404, code: 'NOT_FOUND', error: 'NotFound', message: 'Not found' },
  [ErrorCode.RateLimited]: { status: 429, code: 'TOO_MANY_ATTEMPTS', error: 'TooManyAttempts' },
  [ErrorCode.TwoFactorRequired]: {
    status: 401,
    code: 'TWO_FACTOR_AUTHENTICATION_REQUIRED',
    error: 'TwoFactorAuthenticationRequired',
  },
  [ErrorCode.TwoFactorInvalid]: {
    status: 401,
    code: 'WRONG_TWO_FACTOR_CODE',
    error: 'WrongCode',
    message: 'Wrong two-factor code.',
  },
  [ErrorCode.TwoFactorCodeExpired]: {
    status: 401,
    code: 'TWO_FACTOR_CODE_EXPIRED',
    error: 'CodeExpired',
    message: 'Two-factor code has expired.',
  },
  [ErrorCode.TwoFactorCodeMissing]: {
    status: 400,
    code: 'NO_2FA_CODE_PROVIDED',
    error: 'NoCodeProvided',
    message: 'Invalid request: at least one of email or totp must be provided.',
  },
  [ErrorCode.WrongRecoveryCode]: {
    status: 401,
    code: 'WRONG_TOTP_RECOVERY_CODE',
    error: 'WrongRecoveryCode',
    message: 'Wrong recovery code.',
  },
  [ErrorCode.TwoFactorMaxAttempts]: { status: 429, code: 'TOO_MANY_ATTEMPTS', error: 'TooManyAttempts' },
  [ErrorCode.TwoFactorLocked]: { status: 429, code: 'TOO_MANY_ATTEMPTS', error: 'TooManyAttempts' },
  [ErrorCode.TwoFactorMethodDisabled]: {
    status: 400,
    code: 'TWO_FACTOR_METHOD_DISABLED',
    error: 'TwoFactorMethodDisabled',
    message: 'Two-factor authentication method is disabled.',
  },
  [ErrorCode.TwoFactorMethodAlreadyEnabled]: {
    status: 304,
    code: 'TWO_FACTOR_METHOD_ALREADY_ENABLED',
    error: 'TwoFactorMethodAlreadyEnabled',
    message: 'Two-factor authentication method is already enabled.',
  },
  [ErrorCode.TwoFactorMethodAlreadyDisabled]: {
    status: 304,
    code: 'TWO_FACTOR_METHOD_ALREADY_DISABLED',
    error: 'TwoFactorMethodAlreadyDisabled',
    message: 'Two factor method is already disabled.',
  },
  [ErrorCode.CannotDisableOnlyTwoFactorMethod]: {
    status: 400,
    code: 'CANNOT_DISABLE_ONLY_TWO_FACTOR_METHOD',
    error: 'CannotDisableOnlyTwoFactorMethod',
    message: 'Cannot disable only two-factor authentication method.',
  },
  [ErrorCode.EmailCooldownActive]: {
    status: 429,
    code: 'EMAIL_COOLDOWN_ACTIVE',
    error: 'EmailCooldownActive',
    message: 'Failed to send email because cooldown is active.',
  },
  [ErrorCode.EmailSendFailed]: {
    status: 500,
    code: 'EMAIL_SEND_FAILURE',
    error: 'EmailSendFailure',
    message: 'The email could not be sent; it is queued and will be retried.',
  },
  [ErrorCode.PostCommitSideEffectFailed]: FAILURE(
    'POST_COMMIT_SIDE_EFFECT_FAILURE',
    'PostCommitSideEffectFailure',
    'The change was saved, but the email that goes with it could not be sent yet; it is queued and will be retried.',
  ),
  [ErrorCode.InvalidEmail]: { status: 400, code: 'INVALID_EMAIL', error: 'InvalidEmail' },
  [ErrorCode.FieldUnavailable]: { status: 400, code: 'FIELD_UNAVAILABLE', error: 'FieldUnavailable' },
  [ErrorCode.PasswordPolicy]: { status: 400, code: 'INVALID_PASSWORD', error: 'InvalidPassword' },
  [ErrorCode.InvalidToken]: { status: 400, code: 'INVALID_TOKEN', error: 'InvalidToken' },
  [ErrorCode.NoVerifiedEmail]: {
    status: 400,
    code: 'EMAIL_NOT_VERIFIED',
    error: 'EmailNotVerified',
    message: 'The user needs a verified email address to perform this action.',
  },
  [ErrorCode.UserNotFound]: { status: 404, code: 'USER_NOT_FOUND', error: 'UserNotFound', message: 'User not found.' },
  [ErrorCode.TokenAlreadyExists]: { status: 400, code: 'TOKEN_ALREADY_EXISTS', error: 'TokenAlreadyExists' },
  [ErrorCode.TokenDoesNotExist]: { status: 404, code: 'TOKEN_NOT_FOUND', error: 'TokenNotFound' },
  [ErrorCode.InvalidUsername]: { status: 400, code: 'INVALID_USERNAME', error: 'InvalidUsername' },
  [ErrorCode.UsernameBlocked]: { status: 400, code: 'INVALID_USERNAME', error: 'InvalidUsername' },
  [ErrorCode.InvalidName]: { status: 400, code: 'INVALID_NAME', error: 'InvalidName' },
  [ErrorCode.InvalidCode]: { status: 401, code: 'WRONG_TWO_FACTOR_CODE', error: 'WrongCode', message: 'Wrong two-factor code.' },
  [ErrorCode.TotpAlreadyEnabled]: {
    status: 304,
    code: 'TWO_FACTOR_METHOD_ALREADY_ENABLED',
    error: 'TwoFactorMethodAlreadyEnabled',
    message: 'Two-factor authentication method is already enabled.',
  },
  [ErrorCode.TotpNotEnabled]: {
    status: 400,
    code: 'TWO_FACTOR_METHOD_DISABLED',
    error: 'TwoFactorMethodDisabled',
    message: 'Two-factor authentication method is disabled.',
  },
  [ErrorCode.TwoFactorRequiredByPolicy]: {
    status: 400,
    code: 'CANNOT_DISABLE_ONLY_TWO_FACTOR_METHOD',
    error: 'CannotDisableOnlyTwoFactorMethod',
  },
  [ErrorCode.ChallengeNotFound]: {
    status: 401,
    code: 'TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID',
    error: 'Invalid',
    message: 'The two-factor attempt is over or does not exist; log in again.',
  },
  [ErrorCode.ChallengeExpired]: {
    status: 401,
    code: 'TWO_FACTOR_AUTHENTICATION_TOKEN_EXPIRED',
    error: 'Expired',
    message: 'The two-factor attempt has expired; log in again.',
  },
  [ErrorCode.InvalidChallengeMethod]: {
    status: 400,
    code: 'TWO_FACTOR_METHOD_DISABLED',
    error: 'TwoFactorMethodDisabled',
    message: 'Two-factor authentication method is disabled.',
  },
  [ErrorCode.AccessTokenInvalid]: {
    status: 401,
    code: 'ACCESS_TOKEN_INVALID',
    error: 'Invalid',
    message: 'Indicates that the access token cannot be decoded.',
  },
  [ErrorCode.AccessTokenExpired]: {
    status: 401,
    code: 'ACCESS_TOKEN_EXPIRED',
    error: 'Expired',
    message: 'Access token is expired.',
  },
  [ErrorCode.RefreshTokenMissing]: {
    status: 401,
    code: 'REFRESH_TOKEN_MISSING',
    error: 'Missing',
    message: 'Thrown when the refresh token is missing.',
  },
  [ErrorCode.RefreshTokenInvalid]: {
    status: 401,
    code: 'REFRESH_TOKEN_INVALID',
    error: 'Invalid',
    message: 'Refresh token does not correspond to an existing session.',
  },
  [ErrorCode.RefreshTokenExpired]: {
    status: 401,
    code: 'REFRESH_TOKEN_EXPIRED',
    error: 'Expired',
    message: 'Refresh token is expired.',
  },
  [ErrorCode.StepUpTokenMissing]: {
    status: 401,
    code: 'STEP_UP_TOKEN_MISSING',
    error: 'Missing',
    message: 'Thrown when the step-up token is missing.',
  },
  [ErrorCode.StepUpTokenInvalid]: {
    status: 401,
    code: 'STEP_UP_TOKEN_INVALID',
    error: 'Invalid',
    message: 'Indicates that the step-up token cannot be decoded.',
  },
  [ErrorCode.StepUpTokenExpired]: {
    status: 401,
    code: 'STEP_UP_TOKEN_EXPIRED',
    error: 'Expired',
    message: 'Indicates that the step-up token is expired.',
  },
  [ErrorCode.TwoFactorTokenMissing]: {
    status: 401,
    code: 'TWO_FACTOR_AUTHENTICATION_TOKEN_MISSING',
    error: 'Missing',
    message: 'Thrown when the two-factor authentication token is missing.',
  },
  [ErrorCode.TwoFactorTokenInvalid]: {
    status: 401,
    code: 'TWO_FACTOR_AUTHENTICATION_TOKEN_INVALID',
    error: 'Invalid',
    message: 'Indicates that the two-factor authentication token cannot be decoded.',
  },
  [ErrorCode.TwoFactorTokenExpired]: {
    status: 401,
    code: 'TWO_FACTOR_AUTHENTICATION_TOKEN_EXPIRED',
    error: 'Expired',
    message: 'Indicates that the two-factor authentication token is expired.',
  },
  [ErrorCode.TotpSetupTokenInvalid]: {
    status: 401,
    code: 'TOTP_SETUP_TOKEN_INVALID',
    error: 'Invalid',
    message: 'The TOTP set-up token is invalid or belongs to an older set-up.',
  },
  [ErrorCode.TotpSetupTokenExpired]: {
    status: 401,
    code: 'TOTP_SETUP_TOKEN_EXPIRED',
    error: 'Expired',
    message: 'The TOTP set-up token is expired.',
  },
  [ErrorCode.AccessTokenAllowlistReadingFailure]: FAILURE(
    'ACCESS_TOKEN_ALLOWLIST_READING_FAILURE',
    'AllowlistReadingFailure',
    'The session of the access token could not be read.',
  ),
  [ErrorCode.DatabaseFailure]: FAILURE('DATABASE_FAILURE', 'DatabaseFailure', 'A database operation failed.'),
  // Not a seed 001 code (Singularity has no shared rate limiter): its naming, and 503 with Retry-After.
  [ErrorCode.RateLimitUnavailable]: {
    status: 503,
    code: 'SERVICE_UNAVAILABLE',
    error: 'ServiceUnavailable',
    message: 'Codes and passwords cannot be checked right now; try again in a few seconds.',
  },
  [ErrorCode.DatabaseEncryptionFailure]: FAILURE(
    'DATABASE_ENCRYPTION_FAILURE',
    'DatabaseEncryptionFailure',
    'A stored secret could not be decrypted.',
  ),
  [ErrorCode.InvalidUserDocument]: FAILURE('INVALID_USER_DOCUMENT', 'InvalidUserDocument', 'The stored user record is invalid.'),
  [ErrorCode.InvalidPrincipalDocument]: FAILURE(
    'INVALID_PRINCIPAL_DOCUMENT',
    'InvalidPrincipalDocument',
    'The stored user cannot be shown as a principal.',
  ),
  // An unexpected failure: Singularity's general database failure is the nearest of its 500s.
  [ErrorCode.Internal]: FAILURE('DATABASE_FAILURE', 'InternalError', 'Internal server error.'),
} as const satisfies Record<ErrorCode, S2ErrorMapping>;
