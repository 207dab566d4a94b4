import { ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import type { AuthenticatedRequest } from '../common/request-context.js';

/** Set on routes that need a logged-in caller: those are counted per user, the rest per address. */
export const AUTHENTICATED_ROUTE = 'rate-limit:authenticated';

export const isAuthenticatedRoute = (context: ExecutionContext): boolean =>
  Boolean(
    Reflect.getMetadata(AUTHENTICATED_ROUTE, context.getHandler()) ??
    Reflect.getMetadata(AUTHENTICATED_ROUTE, context.getClass()),
  );

/** Configuration keys that hold a route's own limit per caller and minute. */
export type RouteLimitKey = 'RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE';

const ROUTE_LIMIT = 'rate-limit:route-limit';

/**
 * The route's limit per caller and minute is the configuration's `key` instead of the general one
 * (the window and the counting stay those of the `default` throttler).
 */
export const RateLimitPerMinute = (key: RouteLimitKey) => SetMetadata(ROUTE_LIMIT, key);

export const routeLimitKey = (context: ExecutionContext): RouteLimitKey | undefined =>
  Reflect.getMetadata(ROUTE_LIMIT, context.getHandler()) as RouteLimitKey | undefined;

/**
 * Per caller and route. A 429 carries the X-RateLimit-* headers too, and the surface's body (the
 * filters map RateLimited).
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, any>, context?: ExecutionContext): Promise<string> {
    // The surface's authentication guard runs first (see AppModule) and has verified the caller:
    // a forged X-User-Id never gets here, so it cannot spend somebody else's allowance.
    const userId = (req as AuthenticatedRequest).authenticatedUserId;
    if (context && isAuthenticatedRoute(context) && userId) return `user:${userId}`;
    return `ip:${await super.getTracker(req)}`;
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const { res } = this.getRequestResponse(context);
    const wait = Math.max(1, detail.timeToBlockExpire);
    this.setResponseHeader(res, `${this.headerPrefix}-Limit`, detail.limit);
    this.setResponseHeader(res, `${this.headerPrefix}-Remaining`, 0);
    this.setResponseHeader(res, `${this.headerPrefix}-Reset`, wait);
    throw new DomainError(ErrorCode.RateLimited, 'Too many requests', { retryAfterSeconds: wait });
  }
}
