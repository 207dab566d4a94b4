import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config.js';
import { FailedAuthLimiter } from './failed-auth.limiter.js';
import { isAuthenticatedRoute, RateLimitGuard, routeLimitKey } from './rate-limit.guard.js';
import { RateLimitStorage } from './rate-limit.storage.js';

/** The counters and the failed-authentication limiter, without the global guard (surfaces import this). */
@Module({ providers: [RateLimitStorage, FailedAuthLimiter], exports: [RateLimitStorage, FailedAuthLimiter] })
export class RateLimitStorageModule {}

@Module({
  imports: [
    RateLimitStorageModule,
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
