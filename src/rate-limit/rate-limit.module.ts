import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { FailedAuthLimiter } from './failed-auth.limiter.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimitStorage } from './rate-limit.storage.js';

/** The counters and the failed-authentication limiter, without the global guard (surfaces import this). */
@Module({ providers: [RateLimitStorage, FailedAuthLimiter], exports: [RateLimitStorage, FailedAuthLimiter] })
export class RateLimitStorageModule {}

@Module({
  imports: [RateLimitStorageModule],
  providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
})
export class RateLimitModule {}
