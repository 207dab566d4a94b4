import { Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule, ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';
import { isAuthenticatedRoute, RateLimitGuard, routeLimitKey } from './rate-limit.guard.js';

/**
 * Where the counters live: Redis when REDIS_URL is set (limits hold across instances), else this
 * process's memory.
 */
@Injectable()
export class RateLimitStorage implements OnApplicationShutdown {
  readonly storage?: ThrottlerStorage;
  private readonly redis?: Redis;

  constructor(@Inject(AppConfig) config: AppConfig) {
    if (!config.REDIS_URL) return;
    const logger = new Logger('RateLimit');
    this.redis = new Redis(config.REDIS_URL, { keyPrefix: `${config.REDIS_KEY_PREFIX}rate-limit:`, maxRetriesPerRequest: 2 });
    // Without this, ioredis reports connection problems as unhandled errors.
    this.redis.on('error', (error: Error) => logger.warn(`Redis: ${error.message}`));
    this.storage = new ThrottlerStorageRedisService(this.redis);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => undefined);
  }
}

@Module({ providers: [RateLimitStorage], exports: [RateLimitStorage] })
class RateLimitStorageModule {}

@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [AppConfig, RateLimitStorage],
      useFactory: (config: AppConfig, holder: RateLimitStorage) => ({
        storage: holder.storage,
        throttlers: [
          {
            name: 'default',
            ttl: 60_000,
            limit: (context) => {
              const routeKey = routeLimitKey(context);
              if (routeKey) return config[routeKey];
              return isAuthenticatedRoute(context) ? config.RATE_LIMIT_AUTHENTICATED_PER_MINUTE : config.RATE_LIMIT_PER_MINUTE;
            },
          },
        ],
      }),
    }),
  ],
  providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
})
export class RateLimitModule {}
