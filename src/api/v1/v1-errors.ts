import { ErrorCode } from '../../common/domain-error.js';

export interface V1ErrorMapping {
  status: number;
  errorType: string;
  /** Replaces the domain message where Rocket.Chat clients expect a fixed text. */
  message?: string;
}

/** Every domain error code in Rocket.Chat's wire format. */
export const V1_ERRORS = {
  [ErrorCode.InvalidParams]: { status: 400, errorType: 'invalid-params' },
  [ErrorCode.ParameterRequired]: { status: 400, errorType: 'error-parameter-required' },
  [ErrorCode.AuthenticationRequired]: { status: 401, errorType: 'unauthorized', message: 'You must be logged in to do this.' },
  [ErrorCode.InvalidCredentials]: { status: 400, errorType: 'error-invalid-password', message: 'Invalid password' },
  [ErrorCode.NotAuthorized]: { status: 403, errorType: 'error-not-allowed', message: 'Not allowed' },
  [ErrorCode.NotFound]: { status: 404, errorType: 'error-not-found' },
  [ErrorCode.RateLimited]: { status: 429, errorType: 'error-too-many-requests' },
  [ErrorCode.TwoFactorRequired]: { status: 400, errorType: 'totp-required', message: 'TOTP Required' },
  [ErrorCode.TwoFactorInvalid]: { status: 400, errorType: 'totp-invalid', message: 'TOTP Invalid' },
  [ErrorCode.TwoFactorMaxAttempts]: { status: 400, errorType: 'totp-max-attempts', message: 'TOTP Maximum Attempts Reached' },
  // Clients already stop and wait on totp-max-attempts; details.lockedUntil says until when.
  [ErrorCode.TwoFactorLocked]: {
    status: 400,
    errorType: 'totp-max-attempts',
    message: 'Too many failed attempts; try again later',
  },
  [ErrorCode.EmailSendFailed]: { status: 503, errorType: 'error-email-send-failed' },
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
  [ErrorCode.Internal]: { status: 500, errorType: 'error-internal', message: 'Internal server error' },
} as const satisfies Record<ErrorCode, V1ErrorMapping>;

/** `login` answers in the REST `{status: "error"}` shape with 401, as Rocket.Chat does. */
export const V1_LOGIN_ERRORS = {
  [ErrorCode.InvalidCredentials]: { error: 'Unauthorized', message: 'Unauthorized' },
  [ErrorCode.TwoFactorRequired]: { error: 'totp-required', message: 'TOTP Required' },
  [ErrorCode.TwoFactorInvalid]: { error: 'totp-invalid', message: 'TOTP Invalid' },
  [ErrorCode.TwoFactorMaxAttempts]: { error: 'totp-max-attempts', message: 'TOTP Maximum Attempts Reached' },
  [ErrorCode.TwoFactorLocked]: { error: 'totp-max-attempts', message: 'Too many failed attempts; try again later' },
} as const satisfies Partial<Record<ErrorCode, { error: string; message: string }>>;
