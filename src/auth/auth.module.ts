import { Module } from '@nestjs/common';
import { PasswordService } from './password.service.js';
import { SessionsService } from './sessions.service.js';

@Module({
  providers: [PasswordService, SessionsService],
  exports: [PasswordService, SessionsService],
})
export class AuthModule {}
