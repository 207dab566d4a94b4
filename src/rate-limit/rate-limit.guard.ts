import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { DEFAULT_IPV6_SUBNET_PREFIX, normalizeIp } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import type { AuthenticatedRequest } from '../common/request-context.js';
import { routeMetadata } from '../common/route-metadata.js';
import { AppConfig } from '../config/app-config.js';
import { RateLimitStorage } from './rate-limit.storage.js';

/** Set on routes that need a logged-in caller: those are counted per user, the rest per address. */
export const AUTHENTICATED_ROUTE = 'rate-limit:authenticated';

export const isAuthenticatedRoute = (context: ExecutionContext): boolean =>
  Boolean(routeMetadata<boolean>(AUTHENTICATED_ROUTE, context));

/** Configuration keys that hold a route's own limit per caller and minute. */
export type RouteLimitKey = 'RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE';

const ROUTE_LIMIT = 'rate-limit:route-limit';

/** The route's limit per caller and minute is the configuration's `key` instead of the general one. */
export const RateLimitPerMinute = (key: RouteLimitKey) => SetMetadata(ROUTE_LIMIT, key);

const NO_RATE_LIMIT = 'rate-limit:none';

/** Probes and the like: never counted, never refused. */
export const NoRateLimit = () => SetMetadata(NO_RATE_LIMIT, true);

const CODE_CHECK = 'rate-limit:code-check';

/**
 * The route checks a second-factor code or a password (a guess can be made on it). Its counter
 * must be the one every instance shares: while REDIS_URL is set and Redis does not answer, it
 * answers 503 RateLimitUnavailable before anything is checked or counted, instead of falling back
 * to a count per process as other routes do.
 */
export const CodeCheck = () => SetMetadata(CODE_CHECK, true);

export const isCodeCheckRoute = (context: ExecutionContext): boolean => Boolean(routeMetadata<boolean>(CODE_CHECK, context));

/** Retry-After of a 503 RateLimitUnavailable: Redis is retried at least every 2 s. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** One window of a minute; a caller past the limit waits a minute from then. */
const WINDOW_MS = 60_000;

/** The counters' namespace (keys in Redis read `default:<route>:<caller>` under REDIS_KEY_PREFIX). */
const COUNTER = 'default';

function setLimitHeaders(reply: FastifyReply, limit: number, remaining: number, resetSeconds: number): void {
  void reply.header('X-RateLimit-Limit', limit);
  void reply.header('X-RateLimit-Remaining', remaining);
  void reply.header('X-RateLimit-Reset', resetSeconds);
}

/**
 * Per caller and route, fixed windows of a minute. A 429 carries X-RateLimit-* and Retry-After,
 * and the surface's body (the filters map RateLimited).
 *
 * Not @nestjs/throttler's guard (its storage contract and Redis store are still used): that one
 * reads seven metadata keys and hashes a key with SHA-256 on every request, which showed in the
 * profile of GET /api/v1/me; here what a route's decorators say is read once per route.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly counters: RateLimitStorage,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http' || routeMetadata<boolean>(NO_RATE_LIMIT, context)) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & AuthenticatedRequest>();
    const reply = http.getResponse<FastifyReply>();
    const key = `${context.getClass().name}.${context.getHandler().name}:${this.callerOf(request, context)}`;
    const limit = this.limitOf(context);
    const record = isCodeCheckRoute(context)
      ? await this.counters.incrementShared(key, WINDOW_MS, limit, WINDOW_MS, COUNTER)
      : await this.counters.storage.increment(key, WINDOW_MS, limit, WINDOW_MS, COUNTER);
    if (!record) {
      void reply.header('Retry-After', UNAVAILABLE_RETRY_AFTER_SECONDS);
      throw new DomainError(ErrorCode.RateLimitUnavailable, 'The shared rate-limit counters do not answer', {
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      });
    }
    if (record.isBlocked) {
      const wait = Math.max(1, record.timeToBlockExpire);
      void reply.header('Retry-After', wait);
      setLimitHeaders(reply, limit, 0, wait);
      throw new DomainError(ErrorCode.RateLimited, 'Too many requests', { retryAfterSeconds: wait });
    }
    setLimitHeaders(reply, limit, Math.max(0, limit - record.totalHits), record.timeToExpire);
    return true;
  }

  /**
   * The verified user on authenticated routes, else the client address (IPv6 by its /64). The
   * surface's authentication guard runs first (see AppModule): a forged X-User-Id never gets here,
   * so it cannot spend somebody else's allowance.
   */
  private callerOf(request: FastifyRequest & AuthenticatedRequest, context: ExecutionContext): string {
    const userId = request.authenticatedUserId;
    if (userId && isAuthenticatedRoute(context)) return `user:${userId}`;
    return `ip:${normalizeIp(request.ip, DEFAULT_IPV6_SUBNET_PREFIX)}`;
  }

  private limitOf(context: ExecutionContext): number {
    const routeKey = routeMetadata<RouteLimitKey>(ROUTE_LIMIT, context);
    if (routeKey) return this.config[routeKey];
    return isAuthenticatedRoute(context) ? this.config.RATE_LIMIT_AUTHENTICATED_PER_MINUTE : this.config.RATE_LIMIT_PER_MINUTE;
  }
}
