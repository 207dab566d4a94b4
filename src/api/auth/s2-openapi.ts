import { applyDecorators, Controller, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { S2_ERRORS } from './s2-errors.js';
import { s2ErrorBody, S2ExceptionFilter } from './s2-exception.filter.js';

/** The security schemes of surface 2, named in the OpenAPI document (see configureApp). */
export const S2_SECURITY = {
  accessCookie: 'access_token (cookie)',
  accessBearer: 'access token (Authorization: Bearer)',
  refreshCookie: 'refresh_token (cookie)',
  stepUpCookie: 'step_up_token (cookie)',
  stepUpHeader: 'X-Step-Up-Token',
  twoFactorCookie: 'two_factor_authentication_token (cookie)',
  twoFactorHeader: 'X-Two-Factor-Authentication-Token',
} as const;

/** A controller of surface 2: errors in Singularity's format. */
export const S2Controller = (path: string, tag: string) =>
  applyDecorators(Controller(path), UseFilters(S2ExceptionFilter), ApiTags(`auth: ${tag}`));

const EXAMPLE_AT = new Date('2026-01-01T12:00:00.000Z');

/** The documented failures of a route, grouped by status, each with Singularity's body as its example. */
function errorResponses(path: string, codes: readonly ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = S2_ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return [...byStatus].map(([status, list]) =>
    ApiResponse({
      status,
      description: list.map((code) => `\`${S2_ERRORS[code].code}\``).join(', '),
      ...(status === 304
        ? { headers: { 'X-Error-Code': { description: 'The error code (a 304 has no body)', schema: { type: 'string' } } } }
        : {
            content: {
              'application/json': {
                schema: { $ref: '#/components/schemas/S2Error' },
                examples: Object.fromEntries(
                  list.map((code) => [
                    S2_ERRORS[code].code,
                    { value: s2ErrorBody(new DomainError(code, S2_ERRORS[code].error), path, EXAMPLE_AT) },
                  ]),
                ),
              },
            },
          }),
    }),
  );
}

export interface S2OperationSpec {
  summary: string;
  description?: string;
  path: string;
  ok: unknown;
  errors?: readonly ErrorCode[];
  /** Which tokens the route reads: documented as security requirements. */
  tokens?: { access?: boolean; refresh?: boolean; stepUp?: boolean; twoFactor?: boolean };
}

/** @ApiOperation, the 200 example, the errors (with validation and rate limits, which every route may answer) and the tokens. */
export const S2Operation = ({ summary, description, path, ok, errors = [], tokens = {} }: S2OperationSpec) =>
  applyDecorators(
    ApiOperation({ summary, ...(description ? { description } : {}) }),
    ApiOkResponse({ description: 'Success', example: ok }),
    ...errorResponses(path, [...errors, ErrorCode.InvalidParams, ErrorCode.RateLimited]),
    ...(tokens.access ? [ApiCookieAuth(S2_SECURITY.accessCookie), ApiBearerAuth(S2_SECURITY.accessBearer)] : []),
    ...(tokens.refresh ? [ApiCookieAuth(S2_SECURITY.refreshCookie)] : []),
    ...(tokens.stepUp ? [ApiCookieAuth(S2_SECURITY.stepUpCookie), ApiSecurity(S2_SECURITY.stepUpHeader)] : []),
    ...(tokens.twoFactor ? [ApiCookieAuth(S2_SECURITY.twoFactorCookie), ApiSecurity(S2_SECURITY.twoFactorHeader)] : []),
  );

/** The token errors of routes that need an access token. */
export const ACCESS_ERRORS = [
  ErrorCode.AuthenticationRequired,
  ErrorCode.AccessTokenInvalid,
  ErrorCode.AccessTokenExpired,
] as const;
export const STEP_UP_ERRORS = [ErrorCode.StepUpTokenMissing, ErrorCode.StepUpTokenInvalid, ErrorCode.StepUpTokenExpired] as const;
export const TWO_FACTOR_TOKEN_ERRORS = [
  ErrorCode.TwoFactorTokenMissing,
  ErrorCode.TwoFactorTokenInvalid,
  ErrorCode.TwoFactorTokenExpired,
] as const;
/** Seed 001's failures of the service itself. */
export const SERVER_ERRORS = [
  ErrorCode.AccessTokenAllowlistReadingFailure,
  ErrorCode.DatabaseFailure,
  ErrorCode.DatabaseEncryptionFailure,
  ErrorCode.InvalidUserDocument,
  ErrorCode.PostCommitSideEffectFailed,
  ErrorCode.InvalidPrincipalDocument,
] as const;
