import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { DEFAULT_IPV6_SUBNET_PREFIX, normalizeIp } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import type { AuthenticatedRequest } from '../common/request-context.js';
import { routeMetadata } from '../common/route-metadata.js';
import { AppConfig } from '../config/app-config.js';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface.js';
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

interface RouteLimits {
  /** @NoRateLimit(): never counted. */
  exempt: boolean;
  /** The counter's name for the route (`Controller.handler`). */
  name: string;
  /** Counted per verified user rather than per address. */
  authenticated: boolean;
  codeCheck: boolean;
  /** Requests per caller and minute. */
  limit: number;
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
  /** Per controller and handler: decorators are fixed at start-up. */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteLimits>>();

  constructor(
    private readonly counters: RateLimitStorage,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /**
   * Synchronous when the counters are in this process (Nest then awaits nothing for this guard);
   * a promise only when the count comes from Redis.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const route = this.routeOf(context);
    if (route.exempt) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & AuthenticatedRequest>();
    const reply = http.getResponse<FastifyReply>();
    const key = `${route.name}:${this.callerOf(request, route)}`;
    const counted = this.counters.countInProcess(key, WINDOW_MS, route.limit, WINDOW_MS, COUNTER);
    if (counted) return this.admit(reply, route.limit, counted);
    const pending = route.codeCheck
      ? this.counters.incrementShared(key, WINDOW_MS, route.limit, WINDOW_MS, COUNTER)
      : this.counters.storage.increment(key, WINDOW_MS, route.limit, WINDOW_MS, COUNTER);
    return pending.then((record) => this.admit(reply, route.limit, record));
  }

  private admit(reply: FastifyReply, limit: number, record: ThrottlerStorageRecord | undefined): true {
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

  /** What the route's decorators say about its counting, worked out on its first request. */
  private routeOf(context: ExecutionContext): RouteLimits {
    const controller = context.getClass();
    const handler = context.getHandler();
    let handlers = this.routes.get(controller);
    if (!handlers) this.routes.set(controller, (handlers = new WeakMap()));
    let route = handlers.get(handler);
    if (route === undefined) {
      const authenticated = isAuthenticatedRoute(context);
      const routeKey = routeMetadata<RouteLimitKey>(ROUTE_LIMIT, context);
      route = {
        exempt: Boolean(routeMetadata<boolean>(NO_RATE_LIMIT, context)),
        name: `${controller.name}.${handler.name}`,
        authenticated,
        codeCheck: isCodeCheckRoute(context),
        limit: routeKey
          ? this.config[routeKey]
          : authenticated
            ? this.config.RATE_LIMIT_AUTHENTICATED_PER_MINUTE
            : this.config.RATE_LIMIT_PER_MINUTE,
      };
      handlers.set(handler, route);
    }
    return route;
  }

  /**
   * The verified user on authenticated routes, else the client address (IPv6 by its /64). The
   * surface's authentication guard runs first (see AppModule): a forged X-User-Id never gets here,
   * so it cannot spend somebody else's allowance.
   */
  private callerOf(request: FastifyRequest & AuthenticatedRequest, route: RouteLimits): string {
    const userId = request.authenticatedUserId;
    if (userId && route.authenticated) return `user:${userId}`;
    return `ip:${normalizeIp(request.ip, DEFAULT_IPV6_SUBNET_PREFIX)}`;
  }
}
