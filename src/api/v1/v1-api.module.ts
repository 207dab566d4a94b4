import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccountModule } from '../../account/account.module.js';
import { AuditModule } from '../../audit/audit.module.js';
import { AuthModule } from '../../auth/auth.module.js';
import { ChallengeModule } from '../../challenge/challenge.module.js';
import { RateLimitStorageModule } from '../../rate-limit/rate-limit.module.js';
import { TwoFactorModule } from '../../two-factor/two-factor.module.js';
import { UsersModule } from '../../users/users.module.js';
import { VerifyEmailPageController } from '../verify-email-page.controller.js';
import { ChallengesController } from './challenges.controller.js';
import { LoginController } from './login.controller.js';
import { TwoFactorController } from './two-factor.controller.js';
import { UsersController } from './users.controller.js';
import { V1AuthGuard } from './v1-auth.guard.js';

/** Surface 1, the Rocket.Chat-compatible REST API: an adapter over the domain modules. */
@Module({
  imports: [AuthModule, AccountModule, UsersModule, TwoFactorModule, AuditModule, ChallengeModule, RateLimitStorageModule],
  controllers: [LoginController, UsersController, TwoFactorController, ChallengesController, VerifyEmailPageController],
  providers: [{ provide: APP_GUARD, useClass: V1AuthGuard }],
})
export class V1ApiModule {}
