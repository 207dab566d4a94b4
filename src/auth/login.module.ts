import { Module } from '@nestjs/common';
import { ChallengeModule } from '../challenge/challenge.module.js';
import { TwoFactorModule } from '../two-factor/two-factor.module.js';
import { UsersModule } from '../users/users.module.js';
import { AuthModule } from './auth.module.js';
import { LoginService } from './login.service.js';

/** Login flows: they need users, the second factor and challenges, which themselves need AuthModule. */
@Module({
  imports: [AuthModule, UsersModule, TwoFactorModule, ChallengeModule],
  providers: [LoginService],
  exports: [LoginService],
})
export class LoginModule {}
