import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { MailModule } from '../mail/mail.module.js';
import { UsersModule } from '../users/users.module.js';
import { BackupCodesService } from './backup-codes.service.js';
import { EmailCodesService } from './email-codes.service.js';
import { SecondFactorFailuresService } from './second-factor-failures.service.js';
import { TotpService } from './totp.service.js';
import { TwoFactorGuard } from './two-factor.guard.js';
import { TwoFactorService } from './two-factor.service.js';

@Module({
  imports: [AuthModule, UsersModule, MailModule, AuditModule],
  providers: [TwoFactorService, EmailCodesService, SecondFactorFailuresService, TotpService, BackupCodesService, TwoFactorGuard],
  exports: [TwoFactorService, EmailCodesService, TwoFactorGuard],
})
export class TwoFactorModule {}
