import { Module } from '@nestjs/common';
import { MailModule } from '../mail/mail.module.js';
import { UsersModule } from '../users/users.module.js';
import { SecurityAlertsService } from './security-alerts.service.js';

/** Security alert mails, reacting to domain events of every layer (it imports none of them but users). */
@Module({
  imports: [UsersModule, MailModule],
  providers: [SecurityAlertsService],
})
export class SecurityAlertsModule {}
