import { Module } from '@nestjs/common';
import { HealthProbesController } from './health-probes.controller.js';
import { HealthController } from './health.controller.js';
import { ReadinessService } from './readiness.service.js';
import { RedisProbe } from './redis-probe.js';

@Module({ controllers: [HealthController, HealthProbesController], providers: [ReadinessService, RedisProbe] })
export class HealthModule {}
