import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { TwoFactorModule } from '../two-factor/two-factor.module.js';
import { UsersModule } from '../users/users.module.js';
import { ChallengesRepository } from './challenges.repository.js';
import { ChallengesService } from './challenges.service.js';

/** Pending second-factor challenges (login and step-up). Above two-factor; account flows import this module, never the reverse. */
@Module({
  imports: [TwoFactorModule, UsersModule, AuditModule],
  providers: [ChallengesRepository, ChallengesService],
  exports: [ChallengesService],
})
export class ChallengeModule {}
