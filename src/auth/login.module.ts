import { Module } from '@nestjs/common';
import { TwoFactorModule } from '../two-factor/two-factor.module.js';
import { UsersModule } from '../users/users.module.js';
import { AuthModule } from './auth.module.js';
import { LoginService } from './login.service.js';

/** Login flows: they need users and the second factor, which themselves need AuthModule. */
@Module({
  imports: [AuthModule, UsersModule, TwoFactorModule],
  providers: [LoginService],
  exports: [LoginService],
})
export class LoginModule {}
