import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccountModule } from '../../account/account.module.js';
import { AuthModule } from '../../auth/auth.module.js';
import { ChallengeModule } from '../../challenge/challenge.module.js';
import { RateLimitStorageModule } from '../../rate-limit/rate-limit.module.js';
import { TwoFactorModule } from '../../two-factor/two-factor.module.js';
import { AuthController } from './auth.controller.js';
import { S2AuthGuard } from './s2-auth.guard.js';
import { S2TokenIssuer } from './s2-token-issuer.js';
import { SessionsController } from './sessions.controller.js';
import { TotpSetupTokens } from './totp-setup-tokens.js';
import { TwoFactorAuthController } from './two-factor-auth.controller.js';

/** Surface 2, Singularity-compatible tokens with step-up: an adapter over the domain modules. */
@Module({
  imports: [AuthModule, AccountModule, TwoFactorModule, ChallengeModule, RateLimitStorageModule],
  controllers: [AuthController, TwoFactorAuthController, SessionsController],
  providers: [S2TokenIssuer, TotpSetupTokens, { provide: APP_GUARD, useClass: S2AuthGuard }],
})
export class AuthApiModule {}
