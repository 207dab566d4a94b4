import { Body, HttpCode, Post } from '@nestjs/common';
import { LoginService } from '../../auth/login.service.js';
import { ChallengesService } from '../../challenge/challenges.service.js';
import { RateLimitPerMinute } from '../../rate-limit/rate-limit.guard.js';
import type { ClientInfo } from '../../two-factor/two-factor.types.js';
import { ChallengeEmailCodeDto, VerifyChallengeDto } from './dto/challenges.dto.js';
import { ClientOf } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';

/** Finishing a login through the challenge its 401 `totp-required` named (seed 004); no session needed. */
@V1Controller('two-factor challenges')
export class ChallengesController {
  constructor(
    private readonly challenges: ChallengesService,
    private readonly login: LoginService,
  ) {}

  @Post('twoFactorChallenges.sendEmailCode')
  @HttpCode(200)
  @RateLimitPerMinute('RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE')
  async sendEmailCode(@Body() body: ChallengeEmailCodeDto, @ClientOf() client: ClientInfo) {
    await this.challenges.sendEmailCode(body.challengeId, client);
    return { success: true };
  }

  @Post('twoFactorChallenges.verifyChallenge')
  @HttpCode(200)
  async verifyChallenge(@Body() body: VerifyChallengeDto, @ClientOf() client: ClientInfo) {
    const { user, token } = await this.login.loginWithChallenge(body.challengeId, body.code, client);
    return { success: true, userId: user.id, loginToken: token };
  }
}
