import { Module } from '@nestjs/common';
import { PasswordService } from './password.service.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';
import { TokenService } from './tokens/token.service.js';

/** Passwords, sessions (login tokens, personal access tokens, surface 2's JWT sessions) and JWTs. */
@Module({
  providers: [PasswordService, SessionsRepository, SessionsService, TokenService],
  exports: [PasswordService, SessionsService, TokenService],
})
export class AuthModule {}
