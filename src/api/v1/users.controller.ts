import { Body, HttpCode, Post, Query } from '@nestjs/common';
import { SessionsService, type AuthenticatedSession } from '../../auth/sessions.service.js';
import { Requires2FA } from '../../two-factor/requires-2fa.decorator.js';
import { UsersService } from '../../users/users.service.js';
import {
  CreateUserDto,
  GeneratePersonalAccessTokenDto,
  RegisterDto,
  SendConfirmationEmailDto,
  UpdateOwnBasicInfoDto,
  VerifyEmailDto,
} from './dto/users.dto.js';
import { CurrentAuth, V1Authenticated } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';
import { presentUser } from './v1-presenters.js';

@V1Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
  ) {}

  @Post('users.register')
  @HttpCode(200)
  async register(@Body() body: RegisterDto, @Query('locale') locale?: string) {
    const { user, emails } = await this.users.register(
      { username: body.username, email: body.email, password: body.pass, name: body.name },
      locale,
    );
    return { success: true, user: presentUser(user, emails) };
  }

  @Post('users.sendConfirmationEmail')
  @HttpCode(200)
  async sendConfirmationEmail(@Body() body: SendConfirmationEmailDto) {
    await this.users.sendConfirmationEmail(body.email);
    return { success: true };
  }

  @Post('users.verifyEmail')
  @HttpCode(200)
  async verifyEmail(@Body() body: VerifyEmailDto) {
    await this.users.verifyEmail(body.token);
    return { success: true };
  }

  @Post('users.create')
  @HttpCode(200)
  @V1Authenticated({ roles: ['admin'] })
  @Requires2FA()
  async create(@CurrentAuth() auth: AuthenticatedSession, @Body() body: CreateUserDto) {
    const { user, emails } = await this.users.createByAdmin(auth.user, body);
    return { success: true, user: presentUser(user, emails) };
  }

  @Post('users.updateOwnBasicInfo')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA()
  async updateOwnBasicInfo(@CurrentAuth() auth: AuthenticatedSession, @Body() body: UpdateOwnBasicInfoDto) {
    const { user, emails } = await this.users.updateProfile(auth.user.id, body.data, auth.session.id);
    return { success: true, user: presentUser(user, emails) };
  }

  @Post('users.generatePersonalAccessToken')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA()
  async generatePersonalAccessToken(@CurrentAuth() auth: AuthenticatedSession, @Body() body: GeneratePersonalAccessTokenDto) {
    const { token } = await this.sessions.createPersonalAccessToken(auth.user.id, body.tokenName, body.bypassTwoFactor ?? false);
    return { success: true, token };
  }

  @Post('users.deleteOwnAccount')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA({ rememberable: false })
  async deleteOwnAccount(@CurrentAuth() auth: AuthenticatedSession) {
    await this.users.deleteUser(auth.user.id);
    return { success: true };
  }
}
