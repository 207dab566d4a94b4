import { applyDecorators, type Type } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { DomainError, type DomainErrorDetails, ErrorCode } from '../../common/domain-error.js';
import { TwoFactorError, type TwoFactorErrorCode } from '../../two-factor/two-factor.error.js';
import type { TwoFactorState } from '../../two-factor/two-factor.types.js';
import { V1_ERRORS, V1_HANDSHAKE_ERRORS_WIRE } from './v1-errors.js';
import { v1ErrorBody, v1LoginErrorBody } from './v1-exception.filter.js';
import { V1_EXAMPLE_HANDSHAKE_DETAILS } from './v1-examples.js';
import { V1ErrorResponseDto, V1LoginErrorResponseDto, V1UnauthorizedResponseDto } from './dto/v1-error-responses.dto.js';

/*
 * OpenAPI documentation of surface 1. The error examples are rendered by the real wire-format
 * functions, so the document cannot drift from what the filters send.
 */
const HANDSHAKE_DETAILS = V1_EXAMPLE_HANDSHAKE_DETAILS;

interface ErrorExample {
  summary: string;
  message: string;
  details?: DomainErrorDetails;
  /** The example's key when two codes share an errorType. */
  name?: string;
}

const ERROR_EXAMPLES: Partial<Record<ErrorCode, ErrorExample>> = {
  [ErrorCode.InvalidParams]: { summary: 'A parameter has the wrong type or size, or is unknown', message: 'username is invalid' },
  [ErrorCode.ParameterRequired]: { summary: 'A required parameter is missing', message: 'email is required' },
  [ErrorCode.AuthenticationRequired]: {
    summary: 'X-User-Id / X-Auth-Token missing or wrong',
    message: 'You must be logged in to do this.',
  },
  [ErrorCode.NotAuthorized]: { summary: 'The caller lacks the role the route needs', message: 'Not allowed' },
  [ErrorCode.RateLimited]: { summary: 'Too many requests', message: 'Too many requests', details: { retryAfterSeconds: 42 } },
  [ErrorCode.RateLimitUnavailable]: {
    summary:
      'REDIS_URL is set but Redis does not answer: codes and passwords are not checked (nothing was counted); retry after Retry-After',
    message: 'Codes cannot be checked right now; try again in a few seconds',
    details: { retryAfterSeconds: 5 },
  },
  [ErrorCode.TwoFactorRequired]: {
    summary: 'A second factor is needed: repeat the request with x-2fa-code and x-2fa-method (for email, a code was mailed)',
    message: 'TOTP Required',
    details: HANDSHAKE_DETAILS,
  },
  [ErrorCode.TwoFactorInvalid]: {
    summary: 'The second-factor code is wrong',
    message: 'TOTP Invalid',
    details: { ...HANDSHAKE_DETAILS, codeGenerated: false },
  },
  [ErrorCode.TwoFactorMaxAttempts]: {
    summary: 'Too many wrong codes: the outstanding codes are void, request a new one',
    message: 'Too many wrong codes; request a new one',
    details: { ...HANDSHAKE_DETAILS, codeGenerated: false },
  },
  [ErrorCode.TwoFactorLocked]: {
    name: 'totp-max-attempts (locked)',
    summary: 'Second factor locked after too many consecutive failures; details.lockedUntil says until when',
    message: 'Too many failed attempts; try again later',
    details: { ...HANDSHAKE_DETAILS, codeGenerated: false, lockedUntil: '2025-01-01T12:05:00.000Z' },
  },
  [ErrorCode.EmailSendFailed]: {
    summary: 'The email with the code could not be sent at once; it stays queued and is retried',
    message: 'The email with the code could not be sent; try again later',
  },
  [ErrorCode.InvalidCredentials]: { summary: 'The password (hex SHA-256) is not correct', message: 'Invalid password' },
  [ErrorCode.InvalidEmail]: { summary: 'Not a valid email address', message: 'Invalid email not-an-email' },
  [ErrorCode.InvalidUsername]: {
    summary: 'Not a valid username (letters, digits, ".", "-", "_")',
    message: 'The username provided is not valid',
  },
  [ErrorCode.UsernameBlocked]: {
    summary: 'A reserved username (admin, system, …)',
    message: "admin is blocked and can't be used!",
  },
  [ErrorCode.InvalidName]: {
    summary: 'An empty name, or one with markup characters',
    message: 'Name contains invalid characters',
  },
  [ErrorCode.FieldUnavailable]: {
    summary: 'Username or email already in use',
    message: 'alice is already in use :(',
    details: { field: 'username' },
  },
  [ErrorCode.PasswordPolicy]: {
    summary: 'The password breaks the password policy; details lists the rules it breaks',
    message: "The password provided does not meet the server's password policy.",
    details: [
      {
        error: 'error-password-policy-not-met-minLength',
        message: 'The password does not meet the minimum length password policy.',
        limit: 8,
      },
    ],
  },
  [ErrorCode.InvalidToken]: {
    summary: 'Unknown, used or expired verification token',
    message: 'The verification link is invalid or has expired',
  },
  [ErrorCode.NoVerifiedEmail]: {
    summary: 'The user has no verified email',
    message: 'You need a verified email to enable 2FA by email',
  },
  [ErrorCode.UserNotFound]: { summary: "The challenge's user no longer exists", message: 'user not found' },
  [ErrorCode.TokenAlreadyExists]: {
    summary: 'A token with this name already exists',
    message: 'A token with this name already exists',
  },
  [ErrorCode.TokenDoesNotExist]: { summary: 'The user has no token of that name', message: 'Token does not exist' },
  [ErrorCode.InvalidCode]: { summary: 'The code is wrong', message: 'Invalid code' },
  [ErrorCode.TotpAlreadyEnabled]: { summary: 'TOTP is already enabled', message: 'TOTP is already enabled' },
  [ErrorCode.TotpNotEnabled]: { summary: 'TOTP is not enabled', message: 'TOTP is not enabled' },
  [ErrorCode.TwoFactorRequiredByPolicy]: {
    summary: "The user's role (TWO_FACTOR_REQUIRED_ROLES) requires keeping a second factor",
    message: 'Your role requires two-factor authentication: enable another method before switching this one off',
  },
  [ErrorCode.ChallengeNotFound]: { summary: 'Unknown or finished challenge', message: 'challenge not found' },
  [ErrorCode.ChallengeExpired]: { summary: 'The challenge has expired', message: 'challenge expired' },
  [ErrorCode.InvalidChallengeMethod]: { summary: 'The challenge is not an email challenge', message: 'invalid challenge method' },
};

/** The security schemes of surface 1, named in the OpenAPI document (see api/openapi-document.ts). */
export const V1_SECURITY = {
  userId: 'X-User-Id',
  authToken: 'X-Auth-Token',
} as const;

/** An error code documented with its own example, or with a different summary/message/details. */
export type V1DocumentedError = ErrorCode | ({ code: ErrorCode } & Partial<ErrorExample>);

/** The failures of the 2FA handshake (routes with @Requires2FA). */
export const V1_HANDSHAKE_ERRORS = [
  ErrorCode.TwoFactorRequired,
  ErrorCode.TwoFactorInvalid,
  ErrorCode.TwoFactorMaxAttempts,
  ErrorCode.TwoFactorLocked,
  ErrorCode.EmailSendFailed,
] as const;

const RATE_LIMIT_HEADERS = {
  'X-RateLimit-Limit': { description: 'Requests allowed per window', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in the window', schema: { type: 'integer' } },
  'X-RateLimit-Reset': { description: 'Seconds until the window resets', schema: { type: 'integer' } },
} as const;

const HANDSHAKE_CODES: ReadonlySet<ErrorCode> = new Set(Object.keys(V1_HANDSHAKE_ERRORS_WIRE) as ErrorCode[]);

/** The neutral state behind an example's Rocket.Chat `details`, so the example goes through the real rendering. */
function exampleState(details: Record<string, unknown>): TwoFactorState {
  const method = details.method as TwoFactorState['method'];
  return {
    method,
    available: (details.availableMethods as TwoFactorState['available']) ?? [],
    addresses: [String(details.emailOrUsername)],
    username: 'alice',
    ...(method === 'email'
      ? {
          email: {
            sent: details.codeGenerated === true,
            outstanding: Number(details.codeCount ?? 1),
            expiresAt: typeof details.codeExpires === 'string' ? new Date(details.codeExpires) : null,
            cooldownSeconds: 0,
          },
        }
      : {}),
    ...(typeof details.lockedUntil === 'string' ? { lockedUntil: new Date(details.lockedUntil) } : {}),
    ...(typeof details.challengeId === 'string' ? { challengeId: details.challengeId } : {}),
  };
}

/** Which of the three error shapes a rendered body has: each status of a route answers in one of them. */
function errorBodyType(body: Record<string, unknown>): Type<unknown> {
  if (body.status !== 'error') return V1ErrorResponseDto;
  return 'error' in body ? V1LoginErrorResponseDto : V1UnauthorizedResponseDto;
}

/** One documented failure as an @ApiResponse; several with one status merge into one response with several examples. */
export function V1ErrorResponse(documented: V1DocumentedError, shape: 'v1' | 'login' = 'v1') {
  const { code, ...override } = typeof documented === 'object' ? documented : { code: documented };
  const example = { ...ERROR_EXAMPLES[code], ...override } as ErrorExample;
  // Handshake details name the method; a bare `{lockedUntil}` is the lock's plain form (challenges), sent as it is.
  const handshake =
    HANDSHAKE_CODES.has(code) && example.details && !Array.isArray(example.details) && 'method' in example.details;
  const error = handshake
    ? new TwoFactorError(code as TwoFactorErrorCode, example.message, exampleState(example.details as Record<string, unknown>))
    : new DomainError(code, example.message, example.details);
  const wire = (shape === 'login' ? v1LoginErrorBody(error) : null) ?? v1ErrorBody(error);
  const name = example.name ?? V1_ERRORS[code].errorType;
  return ApiResponse({
    status: wire.status,
    description: `\`${name}\`: ${example.summary}`,
    type: errorBodyType(wire.body),
    examples: { [name]: { summary: example.summary, value: wire.body } },
    ...(code === ErrorCode.RateLimited ? { headers: RATE_LIMIT_HEADERS } : {}),
  });
}

export interface V1OperationSpec {
  summary: string;
  description?: string;
  /** The 200 body's schema (a class of dto/v1-responses.dto.ts). */
  type: Type<unknown>;
  /** An example of the 200 body. */
  ok: Record<string, unknown>;
  /**
   * The route's documented failures. 429 is added to every route (the global rate limit);
   * V1Authenticated adds 401 (and 403 with roles).
   */
  errors?: readonly V1DocumentedError[];
  /** `POST /login` answers credential and second-factor failures in its own 401 shape. */
  shape?: 'v1' | 'login';
}

/** @ApiOperation + the 200 schema and example + the documented errors of one surface-1 route. */
export const V1Operation = ({ summary, description, type, ok, errors = [], shape = 'v1' }: V1OperationSpec) =>
  applyDecorators(
    ApiOperation({ summary, ...(description ? { description } : {}) }),
    ApiOkResponse({ description: 'Success', type, example: ok }),
    ...errors.map((error) => V1ErrorResponse(error, shape)),
    V1ErrorResponse(ErrorCode.RateLimited),
  );
