import { applyDecorators, CanActivate, createParamDecorator, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { ApiHeader, ApiSecurity } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { SessionsService, type AuthenticatedSession } from '../../auth/sessions.service.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import type { AuthenticatedRequest } from '../../common/request-context.js';
import { routeMetadata } from '../../common/route-metadata.js';
import { FailedAuthLimiter } from '../../rate-limit/failed-auth.limiter.js';
import { normalizeBackupCode } from '../../two-factor/backup-codes.service.js';
import { normalizeTotpCode } from '../../two-factor/totp.service.js';
import { Requires2FA } from '../../two-factor/requires-2fa.decorator.js';
import { REQUIRES_2FA, type Requires2FAOptions } from '../../two-factor/two-factor.types.js';
import { validateBodyEarly } from '../shared/validation-pipe.js';
import { clientInfoOf } from '../../two-factor/two-factor.guard.js';
import type { TwoFactorAttempt, TwoFactorSubject } from '../../two-factor/two-factor.types.js';
import { AUTHENTICATED_ROUTE, CodeCheck } from '../../rate-limit/rate-limit.guard.js';
import { V1_SECURITY, V1ErrorResponse } from './v1-openapi.js';

export type V1Request = FastifyRequest &
  AuthenticatedRequest & {
    auth?: AuthenticatedSession;
    twoFactorSubject?: TwoFactorSubject;
    twoFactorAttempt?: TwoFactorAttempt;
  };

const headerValue = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The method of a Rocket.Chat second factor. Rocket.Chat's `totp` method takes the authenticator
 * code or a backup code, so a `totp` (or unnamed) code shaped like a backup code is one.
 */
export const v1SecondFactorMethod = (method: string | undefined, code: string | undefined): string | undefined => {
  const named = method?.trim().toLowerCase() || undefined;
  if ((named === undefined || named === 'totp') && code && !normalizeTotpCode(code) && normalizeBackupCode(code)) return 'backup';
  return named;
};

/** Surface 1's second factor: Rocket.Chat clients repeat the request with `x-2fa-code` / `x-2fa-method`. */
export const v1Attempt = (code: string | undefined, method: string | undefined): TwoFactorAttempt => ({
  code,
  method: v1SecondFactorMethod(method, code),
});

const attemptOf = (request: FastifyRequest): TwoFactorAttempt =>
  v1Attempt(headerValue(request, 'x-2fa-code'), headerValue(request, 'x-2fa-method'));

/**
 * `X-User-Id` + `X-Auth-Token`, checked against the sessions table (one indexed query), on routes
 * marked @V1Authenticated(). Registered as a global guard so it always runs before route guards
 * such as TwoFactorGuard, whatever order the decorators are written in.
 */
@Injectable()
export class V1AuthGuard implements CanActivate {
  constructor(
    private readonly sessions: SessionsService,
    private readonly failedAuth: FailedAuthLimiter,
  ) {}

  /** Routes that are not surface 1's authenticated ones pass at once, without a promise for Nest to await. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    return routeMetadata<boolean>(V1_AUTHENTICATED, context) ? this.authenticate(context) : true;
  }

  private async authenticate(context: ExecutionContext): Promise<true> {
    const request = context.switchToHttp().getRequest<V1Request>();
    const userId = headerValue(request, 'x-user-id');
    const token = headerValue(request, 'x-auth-token');
    const auth = userId && token ? await this.sessions.authenticate(userId, token) : null;
    if (!auth) {
      // Guessing tokens is slowed per client address (429 past the limit).
      await this.failedAuth.recordFailure(request.ip);
      throw new DomainError(ErrorCode.AuthenticationRequired, 'You must be logged in to do this.');
    }
    // Role checks come before any second factor: no code is mailed for a request that cannot succeed.
    const roles = routeMetadata<string[]>(V1_REQUIRED_ROLES, context);
    if (roles?.length && !roles.some((role) => auth.user.roles.includes(role))) {
      throw new DomainError(ErrorCode.NotAuthorized, 'Not allowed');
    }
    request.auth = auth;
    request.authenticatedUserId = auth.user.id;
    request.twoFactorSubject = auth;
    request.twoFactorAttempt = attemptOf(request);
    // The handshake (next, in TwoFactorGuard) mails codes and counts attempts: never for a body
    // the route would refuse anyway.
    if (routeMetadata(REQUIRES_2FA, context)) {
      await validateBodyEarly(context);
    }
    return true;
  }
}

/** The route needs surface 1's login (X-User-Id + X-Auth-Token). */
export const V1_AUTHENTICATED = 'v1:authenticated';

/** Roles of which the caller needs one (checked with the login, before @Requires2FA). */
export const V1_REQUIRED_ROLES = 'v1:required-roles';

/** The route needs a logged-in user (with one of `roles`, if given); also tells the rate limiter to count per user. */
export const V1Authenticated = (options: { roles?: string[] } = {}) =>
  applyDecorators(
    SetMetadata(V1_AUTHENTICATED, true),
    SetMetadata(AUTHENTICATED_ROUTE, true),
    SetMetadata(V1_REQUIRED_ROLES, options.roles ?? []),
    // Both headers together: one requirement naming the two schemes (OpenAPI ANDs the schemes within one).
    ApiSecurity({ [V1_SECURITY.userId]: [], [V1_SECURITY.authToken]: [] }),
    V1ErrorResponse(ErrorCode.AuthenticationRequired),
    ...(options.roles?.length ? [V1ErrorResponse(ErrorCode.NotAuthorized)] : []),
  );

export const CurrentAuth = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedSession => {
  const auth = context.switchToHttp().getRequest<V1Request>().auth;
  if (!auth) throw new DomainError(ErrorCode.AuthenticationRequired, 'You must be logged in to do this.');
  return auth;
});

/** The client as the remember window and the audit trail see it (the same reading as TwoFactorGuard's). */
export const ClientOf = createParamDecorator((_: unknown, context: ExecutionContext) =>
  clientInfoOf(context.switchToHttp().getRequest<V1Request>()),
);

/** The second factor the request carries (`x-2fa-code` / `x-2fa-method`), for routes that check it themselves. */
export const TwoFactorAttemptOf = createParamDecorator((_: unknown, context: ExecutionContext): TwoFactorAttempt =>
  attemptOf(context.switchToHttp().getRequest<V1Request>()),
);

/** Marks (for tests and tooling) a route whose handler runs the 2FA handshake itself, through the domain. */
export const V1_HANDSHAKE_IN_HANDLER = 'v1:handshake-in-handler';

/** The handshake's headers, documented. */
const V1TwoFactorHeaders = () =>
  applyDecorators(
    ApiHeader({ name: 'x-2fa-code', required: false, description: 'The second-factor code, after a totp-required answer' }),
    ApiHeader({ name: 'x-2fa-method', required: false, description: 'totp, email or password (hex SHA-256 of the password)' }),
  );

/** A route that checks a code or password (see CodeCheck), with its 503 while shared counters are unavailable. */
export const V1CodeCheck = () => applyDecorators(CodeCheck(), V1ErrorResponse(ErrorCode.RateLimitUnavailable));

/** @Requires2FA on surface 1: the guard, and the x-2fa-* headers the client answers with. */
export const V1Requires2FA = (options?: Requires2FAOptions) =>
  applyDecorators(Requires2FA(options), V1TwoFactorHeaders(), V1CodeCheck());

/** A route whose handler runs the handshake itself, through the domain (sensitive changes). */
export const V1HandshakeInHandler = () =>
  applyDecorators(SetMetadata(V1_HANDSHAKE_IN_HANDLER, true), V1TwoFactorHeaders(), V1CodeCheck());
