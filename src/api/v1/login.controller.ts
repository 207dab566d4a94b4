import { Body, Get, HttpCode, Headers, Post, UseFilters } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { AccountService } from '../../account/account.service.js';
import { type LoginIdentifier, LoginService, type PasswordProof } from '../../account/login.service.js';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import type { ClientInfo } from '../../two-factor/two-factor.types.js';
import { LoginDto } from './dto/login.dto.js';
import { ClientOf, CurrentAuth, V1Authenticated, v1Attempt, V1CodeCheck } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';
import { V1LoginResponseDto, V1LogoutResponseDto, V1MeDto, V1MeResponseDto } from './dto/v1-responses.dto.js';
import { V1_EXAMPLE, V1_EXAMPLE_HANDSHAKE_DETAILS, V1_EXAMPLE_ME } from './v1-examples.js';
import { V1Operation } from './v1-openapi.js';
import { V1LoginExceptionFilter } from './v1-exception.filter.js';
import { presentMe } from './v1-presenters.js';

/** Rocket.Chat's login body, read as the domain's identifier and password proof. */
function credentialsOf(body: LoginDto): { identifier: LoginIdentifier; password: PasswordProof } {
  const identifier: LoginIdentifier | null =
    typeof body.user === 'string'
      ? { usernameOrEmail: body.user }
      : (body.user ??
        (body.username !== undefined ? { username: body.username } : body.email !== undefined ? { email: body.email } : null));
  if (!identifier || body.password === undefined) throw new DomainError(ErrorCode.InvalidCredentials, 'Unauthorized');
  const password: PasswordProof = typeof body.password === 'string' ? { plain: body.password } : { digest: body.password.digest };
  return { identifier, password };
}

@V1Controller('session')
export class LoginController {
  constructor(
    private readonly login: LoginService,
    private readonly accounts: AccountService,
  ) {}

  @V1Operation({
    summary: 'Log in with a password (and the second factor)',
    description:
      'When the user has a second factor, the first answer is 401 totp-required (an email code is mailed for the email method) with details.challengeId; ' +
      'repeat the login with the code (body `code` or headers x-2fa-code/x-2fa-method), or finish it with twoFactorChallenges.verifyChallenge.',
    type: V1LoginResponseDto,
    ok: { status: 'success', data: { userId: V1_EXAMPLE.userId, authToken: V1_EXAMPLE.authToken, me: V1_EXAMPLE_ME } },
    shape: 'login',
    errors: [
      ErrorCode.InvalidParams,
      {
        code: ErrorCode.InvalidCredentials,
        name: 'Unauthorized',
        summary: 'Unknown user or wrong password',
        message: 'Unauthorized',
      },
      { code: ErrorCode.TwoFactorRequired, details: { ...V1_EXAMPLE_HANDSHAKE_DETAILS, challengeId: V1_EXAMPLE.challengeId } },
      ErrorCode.TwoFactorInvalid,
      ErrorCode.TwoFactorMaxAttempts,
      ErrorCode.TwoFactorLocked,
      ErrorCode.EmailSendFailed,
    ],
  })
  @ApiHeader({ name: 'x-2fa-code', required: false, description: 'The second-factor code, after a totp-required answer' })
  @ApiHeader({ name: 'x-2fa-method', required: false, description: 'totp or email' })
  @Post('login')
  @HttpCode(200)
  @V1CodeCheck()
  @UseFilters(V1LoginExceptionFilter)
  async passwordLogin(
    @Body() body: LoginDto,
    @Headers('x-2fa-code') headerCode: string | undefined,
    @Headers('x-2fa-method') headerMethod: string | undefined,
    @ClientOf() client: ClientInfo,
  ): Promise<V1LoginResponseDto> {
    const { user, session, token } =
      body.resume !== undefined
        ? await this.login.loginWithResumeToken(body.resume)
        : await this.login.loginWithPassword(
            { ...credentialsOf(body), secondFactor: v1Attempt(body.code ?? headerCode, headerMethod) },
            { client, origin: client },
          );
    return { status: 'success', data: { userId: user.id, authToken: token, me: await this.me({ user, session }) } };
  }

  @V1Operation({
    summary: 'End this login session',
    type: V1LogoutResponseDto,
    ok: { status: 'success', data: { message: "You've been logged out!" } },
  })
  @Post('logout')
  @HttpCode(200)
  @V1Authenticated()
  async logout(@CurrentAuth() auth: AuthenticatedSession): Promise<V1LogoutResponseDto> {
    await this.login.logout(auth.session.id);
    return { status: 'success', data: { message: "You've been logged out!" } };
  }

  @V1Operation({
    summary: 'The logged-in user and their second factors',
    type: V1MeResponseDto,
    ok: { ...V1_EXAMPLE_ME, success: true },
  })
  @Get('me')
  @V1Authenticated()
  async getMe(@CurrentAuth() auth: AuthenticatedSession): Promise<V1MeResponseDto> {
    return { ...(await this.me(auth)), success: true };
  }

  private async me({ user, snapshot }: AuthenticatedSession): Promise<V1MeDto> {
    const { emails, methods } = await this.accounts.profileOf(user, snapshot);
    return presentMe(user, emails, methods);
  }
}
