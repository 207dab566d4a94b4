import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { MailModule } from '../mail/mail.module.js';
import { UsersModule } from '../users/users.module.js';
import { BackupCodesService } from './backup-codes.service.js';
import { EmailCodeSender } from './email-code-sender.service.js';
import { EmailCodesService } from './email-codes.service.js';
import { BackupCodesRepository } from './repositories/backup-codes.repository.js';
import { EmailCodesRepository } from './repositories/email-codes.repository.js';
import { SecondFactorAttemptsRepository } from './repositories/second-factor-attempts.repository.js';
import { TwoFactorMethodsRepository } from './repositories/two-factor-methods.repository.js';
import { SecondFactorFailuresService } from './second-factor-failures.service.js';
import { BackupCodeStrategy } from './strategies/backup-code.strategy.js';
import { EmailCodeStrategy } from './strategies/email-code.strategy.js';
import { PasswordStrategy } from './strategies/password.strategy.js';
import { SECOND_FACTOR_STRATEGIES } from './strategies/second-factor.strategy.js';
import { TotpStrategy } from './strategies/totp.strategy.js';
import { TotpService } from './totp.service.js';
import { TwoFactorMethodsService } from './two-factor-methods.service.js';
import { TwoFactorGuard } from './two-factor.guard.js';
import { TwoFactorService } from './two-factor.service.js';

/** Second factors: methods, codes, the handshake, lockout. Above users and auth; below challenges and accounts. */
@Module({
  imports: [AuthModule, UsersModule, MailModule, AuditModule],
  providers: [
    TwoFactorMethodsRepository,
    EmailCodesRepository,
    BackupCodesRepository,
    SecondFactorAttemptsRepository,
    EmailCodesService,
    BackupCodesService,
    TotpService,
    SecondFactorFailuresService,
    EmailCodeSender,
    EmailCodeStrategy,
    TotpStrategy,
    BackupCodeStrategy,
    PasswordStrategy,
    {
      provide: SECOND_FACTOR_STRATEGIES,
      inject: [EmailCodeStrategy, TotpStrategy, BackupCodeStrategy, PasswordStrategy],
      useFactory: (...strategies: unknown[]) => strategies,
    },
    TwoFactorService,
    TwoFactorMethodsService,
    TwoFactorGuard,
  ],
  exports: [TwoFactorService, TwoFactorMethodsService, EmailCodeSender, TwoFactorGuard, TotpStrategy, BackupCodeStrategy],
})
export class TwoFactorModule {}
