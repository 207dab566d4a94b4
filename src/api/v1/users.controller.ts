import { Body, Get, HttpCode, Post, Query } from '@nestjs/common';
import { SessionsService, type AuthenticatedSession } from '../../auth/sessions.service.js';
import { ErrorCode } from '../../common/domain-error.js';
import { Requires2FA } from '../../two-factor/requires-2fa.decorator.js';
import { UsersService } from '../../users/users.service.js';
import {
  CreateUserDto,
  GeneratePersonalAccessTokenDto,
  RegisterDto,
  RemovePersonalAccessTokenDto,
  SendConfirmationEmailDto,
  UpdateOwnBasicInfoDto,
  VerifyEmailDto,
} from './dto/users.dto.js';
import { LocaleQueryDto } from './dto/locale.dto.js';
import { CurrentAuth, V1Authenticated } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';
import { V1_EXAMPLE, V1_EXAMPLE_USER, V1_HANDSHAKE_ERRORS, V1Operation } from './v1-openapi.js';
import { presentUser } from './v1-presenters.js';

@V1Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
  ) {}

  @V1Operation({
    summary: 'Register a user',
    description: 'Sends a verification email. Email 2FA is on for every user once the address is verified.',
    ok: { success: true, user: { ...V1_EXAMPLE_USER, emails: [{ address: V1_EXAMPLE.email, verified: false }] } },
    errors: [
      ErrorCode.InvalidParams,
      ErrorCode.InvalidEmail,
      ErrorCode.InvalidUsername,
      ErrorCode.FieldUnavailable,
      ErrorCode.PasswordPolicy,
    ],
  })
  @Post('users.register')
  @HttpCode(200)
  async register(@Body() body: RegisterDto, @Query() query: LocaleQueryDto) {
    const { user, emails } = await this.users.register(
      { username: body.username, email: body.email, password: body.pass, name: body.name },
      query.locale,
    );
    return { success: true, user: presentUser(user, emails) };
  }

  @V1Operation({
    summary: 'Send a new verification link',
    description: 'The same answer whether or not the address exists.',
    ok: { success: true },
    errors: [ErrorCode.ParameterRequired],
  })
  @Post('users.sendConfirmationEmail')
  @HttpCode(200)
  async sendConfirmationEmail(@Body() body: SendConfirmationEmailDto) {
    this.users.sendConfirmationEmail(body.email);
    return { success: true };
  }

  @V1Operation({
    summary: 'Verify an email address with the token from the link',
    ok: { success: true },
    errors: [ErrorCode.ParameterRequired, ErrorCode.InvalidToken],
  })
  @Post('users.verifyEmail')
  @HttpCode(200)
  async verifyEmail(@Body() body: VerifyEmailDto) {
    await this.users.verifyEmail(body.token);
    return { success: true };
  }

  @V1Operation({
    summary: 'Create a user (admins)',
    ok: {
      success: true,
      user: {
        ...V1_EXAMPLE_USER,
        _id: 'ExampleUserId0002',
        username: 'bob',
        name: 'Bob Example',
        emails: [{ address: 'bob@example.com', verified: true }],
      },
    },
    errors: [
      ...V1_HANDSHAKE_ERRORS,
      ErrorCode.InvalidParams,
      ErrorCode.InvalidEmail,
      ErrorCode.InvalidUsername,
      ErrorCode.FieldUnavailable,
      ErrorCode.PasswordPolicy,
    ],
  })
  @Post('users.create')
  @HttpCode(200)
  @V1Authenticated({ roles: ['admin'] })
  @Requires2FA()
  async create(@CurrentAuth() auth: AuthenticatedSession, @Body() body: CreateUserDto) {
    const { user, emails } = await this.users.createByAdmin(auth.user, body);
    return { success: true, user: presentUser(user, emails) };
  }

  @V1Operation({
    summary: "Change the caller's name, username, email or password",
    description: 'A new email takes effect once verified; a new password (with currentPassword) ends the other login sessions.',
    ok: { success: true, user: V1_EXAMPLE_USER },
    errors: [
      ...V1_HANDSHAKE_ERRORS,
      ErrorCode.InvalidParams,
      ErrorCode.InvalidCredentials,
      ErrorCode.InvalidEmail,
      ErrorCode.InvalidUsername,
      ErrorCode.FieldUnavailable,
      ErrorCode.PasswordPolicy,
    ],
  })
  @Post('users.updateOwnBasicInfo')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA()
  async updateOwnBasicInfo(@CurrentAuth() auth: AuthenticatedSession, @Body() body: UpdateOwnBasicInfoDto) {
    const { user, emails } = await this.users.updateProfile(auth.user.id, body.data, auth.session.id);
    return { success: true, user: presentUser(user, emails) };
  }

  @V1Operation({
    summary: 'Create a personal access token',
    description: 'Shown once; used as X-Auth-Token. With bypassTwoFactor it skips the 2FA handshake.',
    ok: { success: true, token: 'example-personal-access-token' },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.ParameterRequired, ErrorCode.TokenAlreadyExists],
  })
  @Post('users.generatePersonalAccessToken')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA()
  async generatePersonalAccessToken(@CurrentAuth() auth: AuthenticatedSession, @Body() body: GeneratePersonalAccessTokenDto) {
    const { token } = await this.sessions.createPersonalAccessToken(auth.user.id, body.tokenName, body.bypassTwoFactor ?? false);
    return { success: true, token };
  }

  @V1Operation({
    summary: "List the caller's personal access tokens",
    description: 'Names and dates only: a token is shown once, when it is created.',
    ok: { success: true, tokens: [{ name: 'ci-bot', createdAt: '2026-01-01T00:00:00.000Z', bypassTwoFactor: false }] },
    errors: [],
  })
  @Get('users.getPersonalAccessTokens')
  @V1Authenticated()
  async getPersonalAccessTokens(@CurrentAuth() auth: AuthenticatedSession) {
    const tokens = await this.sessions.listPersonalAccessTokens(auth.user.id);
    return {
      success: true,
      tokens: tokens.map((token) => ({
        name: token.name,
        createdAt: token.createdAt,
        lastUsedAt: token.lastUsedAt,
        bypassTwoFactor: token.bypassTwoFactor,
      })),
    };
  }

  @V1Operation({
    summary: 'Revoke a personal access token',
    ok: { success: true },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.ParameterRequired, ErrorCode.NotFound],
  })
  @Post('users.removePersonalAccessToken')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA()
  async removePersonalAccessToken(@CurrentAuth() auth: AuthenticatedSession, @Body() body: RemovePersonalAccessTokenDto) {
    await this.sessions.revokePersonalAccessToken(auth.user.id, body.tokenName);
    return { success: true };
  }

  @V1Operation({
    summary: "Delete the caller's account",
    description: 'Asks for a second factor every time (not rememberable).',
    ok: { success: true },
    errors: V1_HANDSHAKE_ERRORS,
  })
  @Post('users.deleteOwnAccount')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA({ rememberable: false })
  async deleteOwnAccount(@CurrentAuth() auth: AuthenticatedSession) {
    await this.users.deleteUser(auth.user.id);
    return { success: true };
  }
}
