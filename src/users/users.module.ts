import { Module } from '@nestjs/common';
import { MailModule } from '../mail/mail.module.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

/** The bottom domain layer: users and their addresses. */
@Module({
  imports: [MailModule],
  providers: [UsersRepository, UsersService],
  exports: [UsersService],
})
export class UsersModule {}
