import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { RetentionRepository } from './retention.repository.js';
import { RetentionScheduler } from './retention.scheduler.js';
import { RetentionService } from './retention.service.js';

/** Deletes what the service no longer needs, on a schedule (see RetentionService for the rules). */
@Module({
  imports: [ScheduleModule.forRoot()],
  providers: [RetentionRepository, RetentionService, RetentionScheduler],
  exports: [RetentionService],
})
export class RetentionModule {}
