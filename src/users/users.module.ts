import { Module } from '@nestjs/common';
import { MailModule } from '../mail/mail.module.js';
import { UsersService } from './users.service.js';

/** The bottom domain layer: users and their addresses. */
@Module({
  imports: [MailModule],
  providers: [UsersService],
  exports: [UsersService],
})
export class UsersModule {}
