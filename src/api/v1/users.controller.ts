import { Body, Get, HttpCode, Post, Query } from '@nestjs/common';
import { AccountService } from '../../account/account.service.js';
import { SessionsService, type AuthenticatedSession } from '../../auth/sessions.service.js';
import { ErrorCode } from '../../common/domain-error.js';
import type { ClientInfo, TwoFactorAttempt } from '../../two-factor/two-factor.types.js';
import { UsersService } from '../../users/users.service.js';
import {
  CreateUserDto,
  DeleteOwnAccountDto,
  GeneratePersonalAccessTokenDto,
  PersonalAccessTokenNameDto,
  RegisterDto,
  SendConfirmationEmailDto,
  UpdateOwnBasicInfoDto,
  VerifyEmailDto,
} from './dto/users.dto.js';
import { LocaleQueryDto } from '../shared/locale-query.dto.js';
import {
  ClientOf,
  CurrentAuth,
  TwoFactorAttemptOf,
  V1Authenticated,
  V1HandshakeInHandler,
  V1Requires2FA,
} from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';
import {
  V1PersonalAccessTokenResponseDto,
  V1PersonalAccessTokensResponseDto,
  V1SuccessResponseDto,
  V1UserResponseDto,
} from './dto/v1-responses.dto.js';
import { V1_EXAMPLE, V1_EXAMPLE_USER } from './v1-examples.js';
import { V1_HANDSHAKE_ERRORS, V1Operation } from './v1-openapi.js';
import { presentUser } from './v1-presenters.js';

@V1Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly accounts: AccountService,
    private readonly sessions: SessionsService,
  ) {}

  @V1Operation({
    summary: 'Register a user',
    description: 'Sends a verification email. Email 2FA is on for every user once the address is verified.',
    type: V1UserResponseDto,
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
  async register(@Body() body: RegisterDto, @Query() query: LocaleQueryDto): Promise<V1UserResponseDto> {
    const { user, emails } = await this.accounts.register({
      username: body.username,
      email: body.email,
      password: body.pass,
      name: body.name,
      locale: query.locale,
    });
    return { success: true, user: presentUser(user, emails) };
  }

  @V1Operation({
    summary: 'Send a new verification link',
    description: 'The same answer whether or not the address exists.',
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [ErrorCode.ParameterRequired],
  })
  @Post('users.sendConfirmationEmail')
  @HttpCode(200)
  async sendConfirmationEmail(@Body() body: SendConfirmationEmailDto): Promise<V1SuccessResponseDto> {
    this.users.sendConfirmationEmail(body.email);
    return { success: true };
  }

  @V1Operation({
    summary: 'Verify an email address with the token from the link',
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [ErrorCode.ParameterRequired, ErrorCode.InvalidToken],
  })
  @Post('users.verifyEmail')
  @HttpCode(200)
  async verifyEmail(@Body() body: VerifyEmailDto): Promise<V1SuccessResponseDto> {
    await this.users.verifyEmail(body.token);
    return { success: true };
  }

  @V1Operation({
    summary: 'Create a user (admins)',
    type: V1UserResponseDto,
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
  @V1Requires2FA()
  async create(@CurrentAuth() auth: AuthenticatedSession, @Body() body: CreateUserDto): Promise<V1UserResponseDto> {
    const { user, emails } = await this.accounts.createByAdmin(auth.user, body);
    return { success: true, user: presentUser(user, emails) };
  }

  @V1Operation({
    summary: "Change the caller's name, username, email or password",
    description:
      'A name or username change needs nothing more. A new email or password needs a second factor with this very ' +
      'request (the 2FA handshake; a remembered one does not count); currentPassword (hex SHA-256) is that factor for a ' +
      'user without a method, and is needed with newPassword. A new email takes effect once verified; a new password ends ' +
      'the other login sessions.',
    type: V1UserResponseDto,
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
  @V1HandshakeInHandler()
  async updateOwnBasicInfo(
    @CurrentAuth() auth: AuthenticatedSession,
    @Body() body: UpdateOwnBasicInfoDto,
    @TwoFactorAttemptOf() attempt: TwoFactorAttempt,
    @ClientOf() client: ClientInfo,
  ): Promise<V1UserResponseDto> {
    const { user, emails } = await this.accounts.updateProfile(auth, body.data, { attempt, client });
    return { success: true, user: presentUser(user, emails) };
  }

  @V1Operation({
    summary: 'Create a personal access token',
    description: 'Shown once; used as X-Auth-Token. With bypassTwoFactor it skips the 2FA handshake.',
    type: V1PersonalAccessTokenResponseDto,
    ok: { success: true, token: 'example-personal-access-token' },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.ParameterRequired, ErrorCode.TokenAlreadyExists],
  })
  @Post('users.generatePersonalAccessToken')
  @HttpCode(200)
  @V1Authenticated()
  @V1Requires2FA()
  async generatePersonalAccessToken(
    @CurrentAuth() auth: AuthenticatedSession,
    @Body() body: GeneratePersonalAccessTokenDto,
  ): Promise<V1PersonalAccessTokenResponseDto> {
    const { token } = await this.sessions.createPersonalAccessToken(auth.user.id, body.tokenName, body.bypassTwoFactor ?? false);
    return { success: true, token };
  }

  @V1Operation({
    summary: "List the caller's personal access tokens",
    description: 'Names and dates only: a token is shown once, when it is created.',
    type: V1PersonalAccessTokensResponseDto,
    ok: {
      success: true,
      tokens: [
        {
          name: 'ci-bot',
          createdAt: '2026-01-01T00:00:00.000Z',
          lastTokenPart: 'Xy3_9a',
          lastUsedAt: null,
          bypassTwoFactor: false,
        },
      ],
    },
    errors: [],
  })
  @Get('users.getPersonalAccessTokens')
  @V1Authenticated()
  async getPersonalAccessTokens(@CurrentAuth() auth: AuthenticatedSession): Promise<V1PersonalAccessTokensResponseDto> {
    const tokens = await this.sessions.listPersonalAccessTokens(auth.user.id);
    return {
      success: true,
      tokens: tokens.map((token) => ({
        // A personal access token always has a name (only login sessions have none).
        name: token.name!,
        createdAt: token.createdAt,
        lastTokenPart: token.lastTokenPart,
        lastUsedAt: token.lastUsedAt,
        bypassTwoFactor: token.bypassTwoFactor,
      })),
    };
  }

  @V1Operation({
    summary: 'A new secret for a personal access token',
    description: 'Same name and 2FA bypass; the old token stops working at once. Shown once.',
    type: V1PersonalAccessTokenResponseDto,
    ok: { success: true, token: 'example-personal-access-token' },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.ParameterRequired, ErrorCode.TokenDoesNotExist],
  })
  @Post('users.regeneratePersonalAccessToken')
  @HttpCode(200)
  @V1Authenticated()
  @V1Requires2FA()
  async regeneratePersonalAccessToken(
    @CurrentAuth() auth: AuthenticatedSession,
    @Body() body: PersonalAccessTokenNameDto,
  ): Promise<V1PersonalAccessTokenResponseDto> {
    const { token } = await this.sessions.regeneratePersonalAccessToken(auth.user.id, body.tokenName);
    return { success: true, token };
  }

  @V1Operation({
    summary: 'Revoke a personal access token',
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.ParameterRequired, ErrorCode.TokenDoesNotExist],
  })
  @Post('users.removePersonalAccessToken')
  @HttpCode(200)
  @V1Authenticated()
  @V1Requires2FA()
  async removePersonalAccessToken(
    @CurrentAuth() auth: AuthenticatedSession,
    @Body() body: PersonalAccessTokenNameDto,
  ): Promise<V1SuccessResponseDto> {
    await this.sessions.revokePersonalAccessToken(auth.user.id, body.tokenName);
    return { success: true };
  }

  @V1Operation({
    summary: "Delete the caller's account",
    description:
      'Asks for a second factor every time (the 2FA handshake; a remembered one does not count). `password` (hex ' +
      'SHA-256) is checked when given, and is that factor for a user without a method.',
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.InvalidCredentials],
  })
  @Post('users.deleteOwnAccount')
  @HttpCode(200)
  @V1Authenticated()
  @V1HandshakeInHandler()
  async deleteOwnAccount(
    @CurrentAuth() auth: AuthenticatedSession,
    @Body() body: DeleteOwnAccountDto,
    @TwoFactorAttemptOf() attempt: TwoFactorAttempt,
    @ClientOf() client: ClientInfo,
  ): Promise<V1SuccessResponseDto> {
    await this.accounts.deleteOwnAccount(auth, body.password, { attempt, client });
    return { success: true };
  }
}
