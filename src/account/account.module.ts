import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ChallengeModule } from '../challenge/challenge.module.js';
import { MailModule } from '../mail/mail.module.js';
import { TwoFactorModule } from '../two-factor/two-factor.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccountService } from './account.service.js';
import { AdminBootstrap } from './admin.bootstrap.js';
import { LoginService } from './login.service.js';
import { StepUpService } from './step-up.service.js';

/**
 * Flows that span the domain layers (users, auth, two-factor, challenges): registration, login,
 * profile changes. It sits above them all and below the REST surfaces; nothing below imports it.
 */
@Module({
  imports: [AuthModule, UsersModule, TwoFactorModule, ChallengeModule, MailModule],
  providers: [AccountService, LoginService, StepUpService, AdminBootstrap],
  exports: [AccountService, LoginService, StepUpService],
})
export class AccountModule {}
