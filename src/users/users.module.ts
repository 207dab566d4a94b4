import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { MailModule } from '../mail/mail.module.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [AuthModule, MailModule],
  providers: [UsersService],
  exports: [UsersService],
})
export class UsersModule {}
