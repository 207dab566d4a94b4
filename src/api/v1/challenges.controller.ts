import { Body, HttpCode, Post } from '@nestjs/common';
import { LoginService } from '../../account/login.service.js';
import { ErrorCode } from '../../common/domain-error.js';
import { ChallengesService } from '../../challenge/challenges.service.js';
import { RateLimitPerMinute } from '../../rate-limit/rate-limit.guard.js';
import type { ClientInfo } from '../../two-factor/two-factor.types.js';
import { ChallengeEmailCodeDto, VerifyChallengeDto } from './dto/challenges.dto.js';
import { ClientOf, V1CodeCheck, v1SecondFactorMethod } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';
import { V1SuccessResponseDto, V1VerifyChallengeResponseDto } from './dto/v1-responses.dto.js';
import { V1_EXAMPLE } from './v1-examples.js';
import { V1Operation } from './v1-openapi.js';

/** Finishing a login through the challenge its 401 `totp-required` named (seed 004); no session needed. */
@V1Controller('two-factor challenges')
export class ChallengesController {
  constructor(
    private readonly challenges: ChallengesService,
    private readonly login: LoginService,
  ) {}

  @V1Operation({
    summary: 'Email another code for a login challenge',
    description: 'At most EMAIL_CODE_MAX_OUTSTANDING codes are valid at once; 5 requests per minute per caller.',
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [
      ErrorCode.ParameterRequired,
      ErrorCode.ChallengeNotFound,
      ErrorCode.ChallengeExpired,
      ErrorCode.InvalidChallengeMethod,
      ErrorCode.UserNotFound,
      ErrorCode.EmailSendFailed,
    ],
  })
  @Post('twoFactorChallenges.sendEmailCode')
  @HttpCode(200)
  @RateLimitPerMinute('RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE')
  async sendEmailCode(@Body() body: ChallengeEmailCodeDto, @ClientOf() client: ClientInfo): Promise<V1SuccessResponseDto> {
    await this.challenges.sendEmailCode(body.challengeId, client);
    return { success: true };
  }

  @V1Operation({
    summary: 'Finish a login with the code for its challenge',
    description:
      'The loginToken is used as X-Auth-Token; the session counts as 2FA-authorized for this client. Too many wrong codes delete the challenge.',
    type: V1VerifyChallengeResponseDto,
    ok: { success: true, userId: V1_EXAMPLE.userId, loginToken: V1_EXAMPLE.authToken },
    errors: [
      ErrorCode.ParameterRequired,
      ErrorCode.ChallengeNotFound,
      ErrorCode.ChallengeExpired,
      ErrorCode.InvalidCode,
      {
        code: ErrorCode.TwoFactorMaxAttempts,
        summary: 'Too many wrong codes: the challenge is deleted, log in again',
        message: 'Too many wrong codes; log in again',
        details: undefined,
      },
      { code: ErrorCode.TwoFactorLocked, details: { lockedUntil: '2025-01-01T12:05:00.000Z' } },
    ],
  })
  @Post('twoFactorChallenges.verifyChallenge')
  @HttpCode(200)
  @V1CodeCheck()
  async verifyChallenge(@Body() body: VerifyChallengeDto, @ClientOf() client: ClientInfo): Promise<V1VerifyChallengeResponseDto> {
    const attempt = { code: body.code, method: v1SecondFactorMethod(undefined, body.code) };
    const { user, token } = await this.login.loginWithChallenge(body.challengeId, attempt, { client, origin: client });
    return { success: true, userId: user.id, loginToken: token };
  }
}
