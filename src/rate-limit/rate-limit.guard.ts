import { ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import type { AuthenticatedRequest } from '../common/request-context.js';
import { RateLimitStorage } from './rate-limit.storage.js';

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

const CODE_CHECK = 'rate-limit:code-check';

/**
 * The route checks a second-factor code or a password (a guess can be made on it). Its counter
 * must be the one every instance shares: while REDIS_URL is set and Redis does not answer, it
 * answers 503 RateLimitUnavailable before anything is checked or counted, instead of falling back
 * to a count per process as other routes do.
 */
export const CodeCheck = () => SetMetadata(CODE_CHECK, true);

export const isCodeCheckRoute = (context: ExecutionContext): boolean =>
  Boolean(Reflect.getMetadata(CODE_CHECK, context.getHandler()) ?? Reflect.getMetadata(CODE_CHECK, context.getClass()));

/** Retry-After of a 503 RateLimitUnavailable: Redis is retried at least every 2 s. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * Per caller and route. A 429 carries the X-RateLimit-* headers too, and the surface's body (the
 * filters map RateLimited).
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly counters: RateLimitStorage,
  ) {
    super(options, storage, reflector);
  }

  /**
   * The throttler's own steps (tracker, key, count, headers), except where the count comes from:
   * code checks take the shared count or refuse with 503; other routes fall back to this process.
   */
  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = request;
    const { req, res } = this.getRequestResponse(context);
    const name = throttler.name ?? 'default';
    const tracker = await getTracker(req, context);
    const key = generateKey(context, tracker, name);
    const record = isCodeCheckRoute(context)
      ? await this.counters.incrementShared(key, ttl, limit, blockDuration, name)
      : await this.storageService.increment(key, ttl, limit, blockDuration, name);
    if (!record) {
      this.setResponseHeader(res, 'Retry-After', UNAVAILABLE_RETRY_AFTER_SECONDS);
      throw new DomainError(ErrorCode.RateLimitUnavailable, 'The shared rate-limit counters do not answer', {
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      });
    }
    if (record.isBlocked) {
      this.setResponseHeader(res, 'Retry-After', record.timeToBlockExpire);
      await this.throwThrottlingException(context, { limit, ttl, key, tracker, ...record });
    }
    this.setResponseHeader(res, `${this.headerPrefix}-Limit`, limit);
    this.setResponseHeader(res, `${this.headerPrefix}-Remaining`, Math.max(0, limit - record.totalHits));
    this.setResponseHeader(res, `${this.headerPrefix}-Reset`, record.timeToExpire);
    return true;
  }

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
