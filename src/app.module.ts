import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ApiExceptionFilter } from './api/api-exception.filter.js';
import { AuthApiModule } from './api/auth/auth-api.module.js';
import { V1ApiModule } from './api/v1/v1-api.module.js';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MailModule } from './mail/mail.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { SecurityAlertsModule } from './security-alerts/security-alerts.module.js';
import { UsersModule } from './users/users.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        DatabaseModule,
        MetricsModule,
        MailModule,
        UsersModule,
        SecurityAlertsModule,
        HealthModule,
        RetentionModule,
        // Before RateLimitModule: global guards run in the order their modules are registered, and
        // the rate limiter counts authenticated routes per verified user (set by the surfaces' guards).
        V1ApiModule,
        AuthApiModule,
        RateLimitModule,
      ],
      providers: [
        // Errors raised outside any controller (body parsing, unknown routes) in the path's surface's shape.
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
      ],
    };
  }
}
