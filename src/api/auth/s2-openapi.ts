import { applyDecorators, Controller, type Type, UseFilters } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiResponse, ApiSecurity, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { S2_ERRORS } from './s2-errors.js';
import { s2ErrorBody, S2ExceptionFilter } from './s2-exception.filter.js';
import { S2ErrorResponseDto } from './dto/s2-error-response.dto.js';

/**
 * The security schemes of surface 2, named in the OpenAPI document (see api/openapi-document.ts).
 * Component names allow letters, digits, ".", "-" and "_" only.
 */
export const S2_SECURITY = {
  accessCookie: 'accessTokenCookie',
  /** The access token; on /refresh, the refresh token. */
  bearer: 'bearer',
  refreshCookie: 'refreshTokenCookie',
  stepUpCookie: 'stepUpTokenCookie',
  stepUpHeader: 'stepUpTokenHeader',
  twoFactorCookie: 'twoFactorTokenCookie',
  twoFactorHeader: 'twoFactorTokenHeader',
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
      description: [...new Set(list.map((code) => `\`${S2_ERRORS[code].code}\``))].join(', '),
      ...(status === 304
        ? { headers: { 'X-Error-Code': { description: 'The error code (a 304 has no body)', schema: { type: 'string' } } } }
        : {
            content: {
              'application/json': {
                schema: { $ref: getSchemaPath(S2ErrorResponseDto) },
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
  /** The 200 body's schema (a class of dto/s2-responses.dto.ts; `[Class]` for an array). */
  type: Type<unknown> | [Type<unknown>];
  ok: unknown;
  errors?: readonly ErrorCode[];
  /**
   * Which tokens the route needs, documented as security requirements. `optional`: each is read
   * when present, none is needed (status); `either`: any one of them is enough.
   */
  tokens?: { access?: boolean; refresh?: boolean; stepUp?: boolean; twoFactor?: boolean; optional?: boolean; either?: boolean };
}

/**
 * @ApiOperation, the 200 schema and example, the errors (with validation and rate limits, which
 * every route may answer) and the tokens.
 */
export const S2Operation = ({ summary, description, path, type, ok, errors = [], tokens = {} }: S2OperationSpec) =>
  applyDecorators(
    ApiOperation({ summary, ...(description ? { description } : {}) }),
    ApiOkResponse({ description: 'Success', type, example: ok }),
    // The error responses reference S2Error by name: the model must be in the document.
    ApiExtraModels(S2ErrorResponseDto),
    ...errorResponses(path, [...errors, ErrorCode.InvalidParams, ErrorCode.RateLimited]),
    ...securityRequirements(tokens).map((requirement) => ApiSecurity(requirement)),
  );

/**
 * OpenAPI reads a route's security requirements as alternatives, and the schemes inside one as all
 * needed: every combination of the ways each needed token travels (cookie or header). Optional
 * tokens (`optional`) add the no-token alternative.
 */
function securityRequirements(tokens: NonNullable<S2OperationSpec['tokens']>): Array<Record<string, string[]>> {
  const ways: string[][] = [];
  if (tokens.access) ways.push([S2_SECURITY.accessCookie, S2_SECURITY.bearer]);
  if (tokens.refresh) ways.push([S2_SECURITY.refreshCookie, S2_SECURITY.bearer]);
  if (tokens.stepUp) ways.push([S2_SECURITY.stepUpCookie, S2_SECURITY.stepUpHeader]);
  if (tokens.twoFactor) ways.push([S2_SECURITY.twoFactorCookie, S2_SECURITY.twoFactorHeader]);
  if (ways.length === 0) return [];
  // Any one of the tokens will do (an access token, else a two-factor token).
  if (tokens.either) return [...new Set(ways.flat())].map((scheme) => ({ [scheme]: [] }));
  let combinations: string[][] = [[]];
  for (const alternatives of ways) combinations = combinations.flatMap((chosen) => alternatives.map((way) => [...chosen, way]));
  const requirements = combinations.map((chosen) => Object.fromEntries(chosen.map((scheme) => [scheme, []])));
  // Each token on its own, or none at all.
  if (tokens.optional) return [{}, ...[...new Set(ways.flat())].map((scheme) => ({ [scheme]: [] }))];
  return requirements;
}

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
