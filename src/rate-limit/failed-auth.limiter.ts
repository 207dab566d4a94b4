import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { RateLimitStorage } from './rate-limit.storage.js';

const WINDOW_MS = 60_000;

/**
 * Failed authentications (no token, a wrong one, an expired one) counted per client address, so
 * guessing tokens gets RATE_LIMIT_FAILED_AUTH_PER_MINUTE tries a minute, then 429s. Only failures
 * are counted: a client whose token works is never slowed by this. While Redis is down these
 * count per process (a failure to authenticate is not a code check: the request fails anyway).
 */
@Injectable()
export class FailedAuthLimiter {
  constructor(
    private readonly holder: RateLimitStorage,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** Counts one failure from `address`; RateLimited once past the limit, with the seconds to wait. */
  async recordFailure(address: string): Promise<void> {
    const limit = this.config.RATE_LIMIT_FAILED_AUTH_PER_MINUTE;
    const record = await this.holder.storage.increment(`failed-auth:${address}`, WINDOW_MS, limit, WINDOW_MS, 'failed-auth');
    if (record.isBlocked) {
      throw new DomainError(ErrorCode.RateLimited, 'Too many failed authentications', {
        retryAfterSeconds: Math.max(1, record.timeToBlockExpire),
        limit,
      });
    }
  }
}
