import { applyDecorators, CanActivate, createParamDecorator, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';
import { SessionsService } from '../../auth/sessions.service.js';
import { TokenError } from '../../auth/tokens/token-error.js';
import type { TokenType, VerifiedClaims } from '../../auth/tokens/token-types.js';
import { TokenService } from '../../auth/tokens/token.service.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import type { AuthenticatedRequest } from '../../common/request-context.js';
import { routeMetadata } from '../../common/route-metadata.js';
import { FailedAuthLimiter } from '../../rate-limit/failed-auth.limiter.js';
import { AUTHENTICATED_ROUTE } from '../../rate-limit/rate-limit.guard.js';
import { clientInfoOf } from '../../two-factor/two-factor.guard.js';
import type { ClientInfo } from '../../two-factor/two-factor.types.js';

/**
 * What a surface-2 route needs:
 * - `access`: 'required'; 'checked' (read when present, a bad one refused: /status); 'lenient'
 *   (read when present and good, otherwise as if absent: /logout, /register).
 * - `stepUp`: a step-up token of the access token's user and session.
 * - `twoFactor`: the two-factor token of a pending attempt: 'required', or 'unless-access'.
 */
export interface S2Requirements {
  access?: 'required' | 'checked' | 'lenient';
  stepUp?: boolean;
  twoFactor?: 'required' | 'unless-access';
}

const S2_REQUIREMENTS = 's2:requirements';

/** The tokens a request proved, for the handlers. */
export interface S2Context {
  access?: AuthenticatedSession;
  accessClaims?: VerifiedClaims<'access'>;
  twoFactor?: VerifiedClaims<'two-factor'>;
}

export type S2Request = FastifyRequest &
  AuthenticatedRequest & {
    s2?: S2Context;
    twoFactorGate?: () => Promise<void>;
  };

const REASONS = {
  access: {
    missing: ErrorCode.AuthenticationRequired,
    invalid: ErrorCode.AccessTokenInvalid,
    expired: ErrorCode.AccessTokenExpired,
  },
  refresh: {
    missing: ErrorCode.RefreshTokenMissing,
    invalid: ErrorCode.RefreshTokenInvalid,
    expired: ErrorCode.RefreshTokenExpired,
  },
  'step-up': {
    missing: ErrorCode.StepUpTokenMissing,
    invalid: ErrorCode.StepUpTokenInvalid,
    expired: ErrorCode.StepUpTokenExpired,
  },
  'two-factor': {
    missing: ErrorCode.TwoFactorTokenMissing,
    invalid: ErrorCode.TwoFactorTokenInvalid,
    expired: ErrorCode.TwoFactorTokenExpired,
  },
} as const satisfies Record<TokenType, Record<TokenError['reason'], ErrorCode>>;

/** A token refusal as the domain's error of that token type and reason. */
export const tokenFailure = (error: TokenError): DomainError =>
  new DomainError(REASONS[error.type][error.reason], `The ${error.type} token is ${error.reason}`);

/**
 * Surface 2's tokens, checked before any route guard (registered globally, ahead of the rate
 * limiter, which counts authenticated routes per user). An access token is a signed JWT that also
 * names a live session and its current access generation: logout, revocation and "revoke every
 * access token" act at once.
 */
@Injectable()
export class S2AuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenService,
    private readonly sessions: SessionsService,
    private readonly failedAuth: FailedAuthLimiter,
  ) {}

  /** Routes that are not surface 2's pass at once, without a promise for Nest to await. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const needs = routeMetadata<S2Requirements>(S2_REQUIREMENTS, context);
    return needs ? this.check(context, needs) : true;
  }

  private async check(context: ExecutionContext, needs: S2Requirements): Promise<true> {
    const request = context.switchToHttp().getRequest<S2Request>();
    const s2: S2Context = {};
    request.s2 = s2;

    if (needs.access) {
      try {
        const { session, claims } = await this.authenticate(request);
        s2.access = session;
        s2.accessClaims = claims;
        request.authenticatedUserId = session.user.id;
      } catch (error) {
        const absent = error instanceof DomainError && error.code === ErrorCode.AuthenticationRequired;
        if (needs.access === 'required' || (needs.access === 'checked' && !absent)) {
          if (!absent) await this.failedAuth.recordFailure(request.ip);
          throw error;
        }
      }
    }
    if (needs.twoFactor === 'required' || (needs.twoFactor === 'unless-access' && !s2.access)) {
      s2.twoFactor = this.read('two-factor', request);
    }
    // On surface 2, @Requires2FA means "a step-up token of this very session".
    request.twoFactorGate = () => this.checkStepUp(request, s2);
    if (needs.stepUp) await this.checkStepUp(request, s2);
    return true;
  }

  /** The live session an access token names; AccessTokenExpired once it is revoked or its generation bumped. */
  async authenticate(request: FastifyRequest): Promise<{ session: AuthenticatedSession; claims: VerifiedClaims<'access'> }> {
    const claims = this.read('access', request);
    let found: AuthenticatedSession | null;
    try {
      found = await this.sessions.findLiveSession(claims.session);
    } catch {
      throw new DomainError(ErrorCode.AccessTokenAllowlistReadingFailure, 'The session of the access token could not be read');
    }
    if (
      !found ||
      found.session.kind !== 'token' ||
      found.user.id !== claims.sub ||
      found.session.accessGeneration !== claims.gen
    ) {
      throw new DomainError(ErrorCode.AccessTokenExpired, 'Access token is expired');
    }
    return { session: found, claims };
  }

  private async checkStepUp(request: FastifyRequest, s2: S2Context): Promise<void> {
    if (!s2.access) throw new DomainError(ErrorCode.AuthenticationRequired, 'User is not authenticated.');
    const claims = this.read('step-up', request);
    // A step-up proves presence in one session: another user's, or another session's, does not count.
    if (claims.sub !== s2.access.user.id || claims.session !== s2.access.session.id) {
      throw new DomainError(ErrorCode.StepUpTokenInvalid, 'The step-up token belongs to another session');
    }
  }

  private read<T extends TokenType>(type: T, request: FastifyRequest): VerifiedClaims<T> {
    try {
      return this.tokens.read(type, request);
    } catch (error) {
      if (error instanceof TokenError) throw tokenFailure(error);
      throw error;
    }
  }
}

/** The route's token requirements (and, with an access token, counting it per user for the rate limiter). */
export const S2Auth = (requirements: S2Requirements) =>
  applyDecorators(
    SetMetadata(S2_REQUIREMENTS, requirements),
    ...(requirements.access === 'required' ? [SetMetadata(AUTHENTICATED_ROUTE, true)] : []),
  );

export const S2 = createParamDecorator((_: unknown, context: ExecutionContext): S2Context => {
  return context.switchToHttp().getRequest<S2Request>().s2 ?? {};
});

/** The access token's session and user; AuthenticationRequired when the route let a request through without one. */
export const S2Access = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedSession => {
  const access = context.switchToHttp().getRequest<S2Request>().s2?.access;
  if (!access) throw new DomainError(ErrorCode.AuthenticationRequired, 'User is not authenticated.');
  return access;
});

/** The client (address, user agent) as the domain sees it. */
export const S2Client = createParamDecorator((_: unknown, context: ExecutionContext): ClientInfo =>
  clientInfoOf(context.switchToHttp().getRequest<S2Request>()),
);
