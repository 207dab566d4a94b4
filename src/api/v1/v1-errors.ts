import { ErrorCode } from '../../common/domain-error.js';
import type { TwoFactorErrorCode } from '../../two-factor/two-factor.error.js';

export interface V1ErrorMapping {
  status: number;
  errorType: string;
  /** Replaces the domain message where Rocket.Chat clients expect a fixed text. */
  message?: string;
}

const INTERNAL = { status: 500, errorType: 'error-internal', message: 'Internal server error' } as const;
/** Surface 2's token errors never arise here; mapped like a missing login all the same. */
const UNAUTHORIZED = { status: 401, errorType: 'unauthorized', message: 'You must be logged in to do this.' } as const;

/** Every domain code in Rocket.Chat's wire format. */
export const V1_ERRORS = {
  [ErrorCode.InvalidParams]: { status: 400, errorType: 'invalid-params' },
  [ErrorCode.ParameterRequired]: { status: 400, errorType: 'error-parameter-required' },
  [ErrorCode.UnsupportedMediaType]: { status: 415, errorType: 'invalid-params', message: 'The request body must be JSON' },
  [ErrorCode.PayloadTooLarge]: { status: 413, errorType: 'invalid-params', message: 'The request body is too large' },
  [ErrorCode.AuthenticationRequired]: UNAUTHORIZED,
  [ErrorCode.AlreadyAuthenticated]: { status: 400, errorType: 'error-already-authenticated' },
  [ErrorCode.InvalidCredentials]: { status: 400, errorType: 'error-invalid-password', message: 'Invalid password' },
  [ErrorCode.NoPasswordProvider]: { status: 400, errorType: 'error-invalid-password', message: 'The user has no password' },
  [ErrorCode.NotAuthorized]: { status: 403, errorType: 'error-not-allowed', message: 'Not allowed' },
  [ErrorCode.NotFound]: { status: 404, errorType: 'error-not-found', message: 'Not found' },
  [ErrorCode.RateLimited]: { status: 429, errorType: 'error-too-many-requests' },
  [ErrorCode.TwoFactorRequired]: { status: 400, errorType: 'totp-required', message: 'TOTP Required' },
  [ErrorCode.TwoFactorInvalid]: { status: 400, errorType: 'totp-invalid', message: 'TOTP Invalid' },
  // Outside the handshake (a challenge), Rocket.Chat has no "expired": the code is just not accepted.
  [ErrorCode.TwoFactorCodeExpired]: { status: 400, errorType: 'error-invalid-code', message: 'Invalid code' },
  [ErrorCode.TwoFactorCodeMissing]: { status: 400, errorType: 'error-parameter-required', message: 'code is required' },
  [ErrorCode.WrongRecoveryCode]: { status: 400, errorType: 'error-invalid-code', message: 'Invalid code' },
  [ErrorCode.TwoFactorMaxAttempts]: { status: 400, errorType: 'totp-max-attempts', message: 'TOTP Maximum Attempts Reached' },
  // Clients already stop and wait on totp-max-attempts; details.lockedUntil says until when.
  [ErrorCode.TwoFactorLocked]: {
    status: 400,
    errorType: 'totp-max-attempts',
    message: 'Too many failed attempts; try again later',
  },
  [ErrorCode.TwoFactorMethodDisabled]: { status: 400, errorType: 'error-invalid-code', message: 'Invalid code' },
  [ErrorCode.TwoFactorMethodAlreadyEnabled]: { status: 400, errorType: 'error-2fa-already-enabled' },
  [ErrorCode.TwoFactorMethodAlreadyDisabled]: { status: 400, errorType: 'error-2fa-already-disabled' },
  [ErrorCode.CannotDisableOnlyTwoFactorMethod]: { status: 400, errorType: 'error-2fa-required-by-policy' },
  [ErrorCode.EmailCooldownActive]: { status: 429, errorType: 'error-too-many-requests' },
  [ErrorCode.EmailSendFailed]: { status: 503, errorType: 'error-email-send-failed' },
  [ErrorCode.PostCommitSideEffectFailed]: { status: 503, errorType: 'error-email-send-failed' },
  [ErrorCode.InvalidEmail]: { status: 400, errorType: 'error-invalid-email' },
  [ErrorCode.FieldUnavailable]: { status: 400, errorType: 'error-field-unavailable' },
  [ErrorCode.PasswordPolicy]: {
    status: 400,
    errorType: 'error-password-policy-not-met',
    message: "The password provided does not meet the server's password policy.",
  },
  [ErrorCode.InvalidToken]: { status: 400, errorType: 'error-invalid-token' },
  [ErrorCode.NoVerifiedEmail]: { status: 400, errorType: 'error-invalid-user' },
  [ErrorCode.UserNotFound]: { status: 400, errorType: 'error-user-not-found' },
  [ErrorCode.TokenAlreadyExists]: {
    status: 400,
    errorType: 'error-token-already-exists',
    message: 'A token with this name already exists',
  },
  [ErrorCode.TokenDoesNotExist]: { status: 400, errorType: 'error-token-does-not-exists', message: 'Token does not exist' },
  [ErrorCode.InvalidUsername]: {
    status: 400,
    errorType: 'error-invalid-username',
    message: 'The username provided is not valid',
  },
  [ErrorCode.UsernameBlocked]: { status: 400, errorType: 'error-blocked-username' },
  [ErrorCode.InvalidName]: { status: 400, errorType: 'error-invalid-name' },
  [ErrorCode.InvalidCode]: { status: 400, errorType: 'error-invalid-code' },
  [ErrorCode.TotpAlreadyEnabled]: { status: 400, errorType: 'error-totp-already-enabled' },
  [ErrorCode.TotpNotEnabled]: { status: 400, errorType: 'error-totp-not-enabled' },
  [ErrorCode.TwoFactorRequiredByPolicy]: { status: 400, errorType: 'error-2fa-required-by-policy' },
  // Seed 004's messages.
  [ErrorCode.ChallengeNotFound]: { status: 400, errorType: 'error-challenge-not-found', message: 'challenge not found' },
  [ErrorCode.ChallengeExpired]: { status: 400, errorType: 'error-challenge-expired', message: 'challenge expired' },
  [ErrorCode.InvalidChallengeMethod]: {
    status: 400,
    errorType: 'error-invalid-challenge-method',
    message: 'invalid challenge method',
  },
  [ErrorCode.AccessTokenInvalid]: UNAUTHORIZED,
  [ErrorCode.AccessTokenExpired]: UNAUTHORIZED,
  [ErrorCode.RefreshTokenMissing]: UNAUTHORIZED,
  [ErrorCode.RefreshTokenInvalid]: UNAUTHORIZED,
  [ErrorCode.RefreshTokenExpired]: UNAUTHORIZED,
  [ErrorCode.StepUpTokenMissing]: UNAUTHORIZED,
  [ErrorCode.StepUpTokenInvalid]: UNAUTHORIZED,
  [ErrorCode.StepUpTokenExpired]: UNAUTHORIZED,
  [ErrorCode.TwoFactorTokenMissing]: UNAUTHORIZED,
  [ErrorCode.TwoFactorTokenInvalid]: UNAUTHORIZED,
  [ErrorCode.TwoFactorTokenExpired]: UNAUTHORIZED,
  [ErrorCode.TotpSetupTokenInvalid]: { status: 400, errorType: 'error-invalid-code', message: 'Invalid code' },
  [ErrorCode.TotpSetupTokenExpired]: { status: 400, errorType: 'error-invalid-code', message: 'Invalid code' },
  [ErrorCode.AccessTokenAllowlistReadingFailure]: INTERNAL,
  [ErrorCode.DatabaseFailure]: INTERNAL,
  [ErrorCode.RateLimitUnavailable]: {
    status: 503,
    errorType: 'error-service-unavailable',
    message: 'Codes cannot be checked right now; try again in a few seconds',
  },
  [ErrorCode.DatabaseEncryptionFailure]: INTERNAL,
  [ErrorCode.InvalidUserDocument]: INTERNAL,
  [ErrorCode.InvalidPrincipalDocument]: INTERNAL,
  [ErrorCode.Internal]: INTERNAL,
} as const satisfies Record<ErrorCode, V1ErrorMapping>;

/** The handshake's answers (TwoFactorError): Rocket.Chat has no "expired", an expired code is invalid. */
export const V1_HANDSHAKE_ERRORS_WIRE = {
  [ErrorCode.TwoFactorRequired]: { errorType: 'totp-required', message: 'TOTP Required' },
  [ErrorCode.TwoFactorInvalid]: { errorType: 'totp-invalid', message: 'TOTP Invalid' },
  [ErrorCode.TwoFactorCodeExpired]: { errorType: 'totp-invalid', message: 'TOTP Invalid' },
  [ErrorCode.TwoFactorMaxAttempts]: { errorType: 'totp-max-attempts', message: 'TOTP Maximum Attempts Reached' },
  [ErrorCode.TwoFactorLocked]: { errorType: 'totp-max-attempts', message: 'Too many failed attempts; try again later' },
} as const satisfies Record<TwoFactorErrorCode, { errorType: string; message: string }>;

/** `login` answers in the REST `{status: "error"}` shape with 401, as Rocket.Chat does. */
export const V1_LOGIN_ERRORS = {
  [ErrorCode.InvalidCredentials]: { error: 'Unauthorized', message: 'Unauthorized' },
  ...Object.fromEntries(
    Object.entries(V1_HANDSHAKE_ERRORS_WIRE).map(([code, wire]) => [code, { error: wire.errorType, message: wire.message }]),
  ),
} as Partial<Record<ErrorCode, { error: string; message: string }>>;
