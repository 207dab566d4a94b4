import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface.js';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';
import { FailoverStorage } from './failover.storage.js';
import { FixedWindowStorage } from './fixed-window.storage.js';

/**
 * Where the counters live: Redis when REDIS_URL is set (limits hold across instances), else this
 * process's memory. While Redis fails or is slow (REDIS_COMMAND_TIMEOUT_MS) the counters of most
 * routes fall back to this process's memory; code checks get no count at all (`incrementShared`
 * answers undefined) and refuse, see RateLimitGuard.
 */
@Injectable()
export class RateLimitStorage implements OnApplicationShutdown {
  /** For the rate-limit guard and the failed-authentication limiter: never fails, falls back to memory. */
  readonly storage: ThrottlerStorage;
  private readonly redis?: Redis;
  private readonly failover?: FailoverStorage;
  private readonly memory = new FixedWindowStorage();

  constructor(@Inject(AppConfig) config: AppConfig) {
    if (!config.REDIS_URL) {
      this.storage = this.memory;
      return;
    }
    const logger = new Logger('RateLimit');
    this.redis = new Redis(config.REDIS_URL, {
      keyPrefix: `${config.REDIS_KEY_PREFIX}rate-limit:`,
      // Fail fast instead of queuing while disconnected, and never hold a request longer than this.
      enableOfflineQueue: false,
      commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      // Reconnects in the background (at most every 2 s), so a recovered server is used again.
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    const failover = new FailoverStorage(
      new ThrottlerStorageRedisService(this.redis),
      this.memory,
      config.REDIS_COMMAND_TIMEOUT_MS,
      logger,
    );
    // Without an error listener ioredis reports connection problems as unhandled errors. A lost
    // connection is the store being down (one warning, whatever the number of reconnect attempts);
    // a (re)established one is it back.
    this.redis.on('error', (error: Error) => failover.markDown(error));
    this.redis.on('ready', () => failover.markUp());
    this.failover = failover;
    this.storage = failover;
  }

  /**
   * The count shared by every instance, or `undefined` when REDIS_URL is set and Redis does not
   * answer (nothing was counted). Without REDIS_URL this process's count is the only one.
   */
  incrementShared(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord | undefined> {
    return this.failover
      ? this.failover.incrementShared(key, ttl, limit, blockDuration, throttlerName)
      : this.memory.increment(key, ttl, limit, blockDuration, throttlerName);
  }

  /**
   * This process's count, taken at once, when the counters live in this process (no REDIS_URL);
   * `undefined` when they live in Redis and only `storage`/`incrementShared` can count.
   */
  countInProcess(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): ThrottlerStorageRecord | undefined {
    return this.redis ? undefined : this.memory.hit(key, ttl, limit, blockDuration, throttlerName);
  }

  async onApplicationShutdown(): Promise<void> {
    this.memory.close();
    if (!this.redis) return;
    // quit() waits for the server's answer: only worth it on a working connection.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}
