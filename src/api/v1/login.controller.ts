import { Body, Get, HttpCode, Headers, Post, UseFilters } from '@nestjs/common';
import { LoginService } from '../../auth/login.service.js';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { TwoFactorService } from '../../two-factor/two-factor.service.js';
import type { ClientInfo } from '../../two-factor/two-factor.types.js';
import { UsersService } from '../../users/users.service.js';
import { LoginDto } from './dto/login.dto.js';
import { ClientOf, CurrentAuth, V1Authenticated } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';
import { V1LoginExceptionFilter } from './v1-exception.filter.js';
import { presentMe } from './v1-presenters.js';

@V1Controller('session')
export class LoginController {
  constructor(
    private readonly login: LoginService,
    private readonly users: UsersService,
    private readonly twoFactor: TwoFactorService,
  ) {}

  @Post('login')
  @HttpCode(200)
  @UseFilters(V1LoginExceptionFilter)
  async passwordLogin(
    @Body() body: LoginDto,
    @Headers('x-2fa-code') headerCode: string | undefined,
    @Headers('x-2fa-method') headerMethod: string | undefined,
    @ClientOf() client: ClientInfo,
  ) {
    const identifier = body.user ?? body.username ?? body.email;
    if (!identifier) throw new DomainError(ErrorCode.InvalidCredentials, 'Unauthorized');
    const { user, session, token } = await this.login.loginWithPassword(
      { identifier, password: body.password, secondFactor: { code: body.code ?? headerCode, method: headerMethod } },
      client,
    );
    return { status: 'success', data: { userId: user.id, authToken: token, me: await this.me({ user, session }) } };
  }

  @Post('logout')
  @HttpCode(200)
  @V1Authenticated()
  async logout(@CurrentAuth() auth: AuthenticatedSession) {
    await this.login.logout(auth.session.id);
    return { status: 'success', data: { message: "You've been logged out!" } };
  }

  @Get('me')
  @V1Authenticated()
  async getMe(@CurrentAuth() auth: AuthenticatedSession) {
    return { ...(await this.me(auth)), success: true };
  }

  private async me({ user }: AuthenticatedSession) {
    const [emails, methods] = await Promise.all([this.users.emailsOf(user.id), this.twoFactor.availableMethods(user.id)]);
    return presentMe(user, emails, methods);
  }
}
