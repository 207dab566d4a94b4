import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';
import { FixedWindowStorage } from './fixed-window.storage.js';

/**
 * Where the counters live: Redis when REDIS_URL is set (limits hold across instances), else this
 * process's memory.
 */
@Injectable()
export class RateLimitStorage implements OnApplicationShutdown {
  readonly storage: ThrottlerStorage;
  private readonly redis?: Redis;
  private readonly memory?: FixedWindowStorage;

  constructor(@Inject(AppConfig) config: AppConfig) {
    if (!config.REDIS_URL) {
      this.memory = new FixedWindowStorage();
      this.storage = this.memory;
      return;
    }
    const logger = new Logger('RateLimit');
    this.redis = new Redis(config.REDIS_URL, { keyPrefix: `${config.REDIS_KEY_PREFIX}rate-limit:`, maxRetriesPerRequest: 2 });
    // Without this, ioredis reports connection problems as unhandled errors.
    this.redis.on('error', (error: Error) => logger.warn(`Redis: ${error.message}`));
    this.storage = new ThrottlerStorageRedisService(this.redis);
  }

  async onApplicationShutdown(): Promise<void> {
    this.memory?.close();
    await this.redis?.quit().catch(() => undefined);
  }
}
