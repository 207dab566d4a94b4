import { DynamicModule, Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from '../common/clock.js';
import { DomainEvents } from '../common/domain-events.js';
import { SecretKeys } from '../common/secret-keys.js';
import { AppConfig } from './app-config.js';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: SecretKeys, useValue: new SecretKeys(config.appSecret) },
        { provide: Clock, useClass: SystemClock },
        DomainEvents,
      ],
      exports: [AppConfig, SecretKeys, Clock, DomainEvents],
    };
  }
}
