import { Body, Delete, Get, HttpCode, Post, Query } from '@nestjs/common';
import { AccountService } from '../../account/account.service.js';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';
import { ChallengesService } from '../../challenge/challenges.service.js';
import { Clock } from '../../common/clock.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { EmailCodeSender } from '../../two-factor/email-code-sender.service.js';
import { Requires2FA } from '../../two-factor/requires-2fa.decorator.js';
import { TwoFactorMethodsService } from '../../two-factor/two-factor-methods.service.js';
import type { ClientInfo } from '../../two-factor/two-factor.types.js';
import type { User } from '../../users/user.entity.js';
import { LocaleQueryDto } from '../shared/locale-query.dto.js';
import { EnableEmailDto, PreferredMethodDto, TotpSetupDto } from './dto/auth.dto.js';
import { S2, S2Access, S2Auth, S2Client, type S2Context } from './s2-auth.guard.js';
import {
  ACCESS_ERRORS,
  S2Controller,
  S2Operation,
  SERVER_ERRORS,
  STEP_UP_ERRORS,
  TWO_FACTOR_TOKEN_ERRORS,
} from './s2-openapi.js';
import {
  S2EmailCodeSentResponseDto,
  S2EmailCooldownResponseDto,
  S2PrincipalResponseDto,
  S2TotpSetupResponseDto,
} from './dto/s2-responses.dto.js';
import { S2_EXAMPLE_PRINCIPAL } from './s2-examples.js';
import { presentPrincipal } from './s2-presenters.js';
import { TotpSetupTokens } from './totp-setup-tokens.js';
import { CodeCheck } from '../../rate-limit/rate-limit.guard.js';

/** What @Requires2FA means on surface 2: an access token, and a step-up token of the same session. */
const STEP_UP = { access: true, stepUp: true } as const;

/** Surface 2's second-factor management: email, TOTP, the preferred method. Changes need a step-up token. */
@S2Controller('api/auth/2fa', 'two-factor')
export class TwoFactorAuthController {
  constructor(
    private readonly accounts: AccountService,
    private readonly methods: TwoFactorMethodsService,
    private readonly sender: EmailCodeSender,
    private readonly challenges: ChallengesService,
    private readonly setupTokens: TotpSetupTokens,
    private readonly clock: Clock,
  ) {}

  @S2Operation({
    summary: 'Pick the method asked for first',
    path: '/api/auth/2fa/preferred-method',
    type: S2PrincipalResponseDto,
    ok: S2_EXAMPLE_PRINCIPAL,
    errors: [...ACCESS_ERRORS, ...STEP_UP_ERRORS, ErrorCode.TwoFactorMethodDisabled],
    tokens: STEP_UP,
  })
  @Post('preferred-method')
  @HttpCode(200)
  @S2Auth({ access: 'required' })
  @Requires2FA()
  async preferredMethod(
    @Body() body: PreferredMethodDto,
    @S2Access() access: AuthenticatedSession,
  ): Promise<S2PrincipalResponseDto> {
    await this.methods.setPreferredMethod(access.user, body.method);
    return this.principal(access.user.id, access.user);
  }

  @S2Operation({
    summary: 'Mail a code (to enable email 2FA, or for a pending login or step-up)',
    description:
      "With an access token, for its user; else for the two-factor token's pending attempt. One code per " +
      'EMAIL_CODE_RESEND_AFTER_SECONDS (60): `cooldown` is the wait before the next; inside it, EMAIL_COOLDOWN_ACTIVE.',
    path: '/api/auth/2fa/email/send',
    type: S2EmailCodeSentResponseDto,
    ok: { cooldown: 60 },
    errors: [
      ...ACCESS_ERRORS,
      ...TWO_FACTOR_TOKEN_ERRORS,
      ErrorCode.EmailCooldownActive,
      ErrorCode.NoPasswordProvider,
      ErrorCode.NoVerifiedEmail,
      ErrorCode.TwoFactorLocked,
      ErrorCode.EmailSendFailed,
    ],
    tokens: { access: true, twoFactor: true, either: true },
  })
  @Post('email/send')
  @HttpCode(200)
  @S2Auth({ access: 'checked', twoFactor: 'unless-access' })
  async sendEmailCode(
    @Query() query: LocaleQueryDto,
    @S2() s2: S2Context,
    @S2Client() client: ClientInfo,
  ): Promise<S2EmailCodeSentResponseDto> {
    const user = await this.subjectOf(s2);
    if (!user.passwordHash)
      throw new DomainError(ErrorCode.NoPasswordProvider, 'The user needs a password for two-factor authentication');
    const sent = await this.sender.send(user, {
      client,
      locale: query.locale,
      enforceCooldown: true,
      awaitDelivery: { as: ErrorCode.EmailSendFailed },
    });
    return { cooldown: sent.cooldownSeconds };
  }

  @S2Operation({
    summary: 'Seconds before another code may be mailed',
    path: '/api/auth/2fa/email/cooldown',
    type: S2EmailCooldownResponseDto,
    ok: { remaining: 42 },
    errors: [...ACCESS_ERRORS, ...TWO_FACTOR_TOKEN_ERRORS],
    tokens: { access: true, twoFactor: true, either: true },
  })
  @Get('email/cooldown')
  @S2Auth({ access: 'checked', twoFactor: 'unless-access' })
  async cooldown(@S2() s2: S2Context): Promise<S2EmailCooldownResponseDto> {
    const user = await this.subjectOf(s2);
    return { remaining: (await this.sender.status(user.id)).cooldownSeconds };
  }

  @S2Operation({
    summary: 'Turn email 2FA on with a mailed code',
    description:
      'Mail the code with 2fa/email/send first. Every other session of the user ends and every access token of the user ' +
      'stops working (the client refreshes); the owner gets a security alert.',
    path: '/api/auth/2fa/email/enable',
    type: S2PrincipalResponseDto,
    ok: S2_EXAMPLE_PRINCIPAL,
    errors: [
      ErrorCode.TwoFactorMethodAlreadyEnabled,
      ErrorCode.NoPasswordProvider,
      ...ACCESS_ERRORS,
      ...STEP_UP_ERRORS,
      ErrorCode.TwoFactorCodeExpired,
      ErrorCode.TwoFactorInvalid,
      ErrorCode.TwoFactorMaxAttempts,
      ErrorCode.UserNotFound,
      ...SERVER_ERRORS,
      ErrorCode.RateLimitUnavailable,
    ],
    tokens: STEP_UP,
  })
  @Post('email/enable')
  @HttpCode(200)
  @CodeCheck()
  @S2Auth({ access: 'required' })
  @Requires2FA()
  async enableEmail(
    @Body() body: EnableEmailDto,
    @Query() query: LocaleQueryDto,
    @S2Access() access: AuthenticatedSession,
    @S2Client() client: ClientInfo,
  ): Promise<S2PrincipalResponseDto> {
    await this.methods.enableEmailWithCode(access.user, body.code, access.session.id, client, query.locale);
    return this.principal(access.user.id, access.user);
  }

  @S2Operation({
    summary: 'Turn email 2FA off',
    description: 'Not the only method (CANNOT_DISABLE_ONLY_TWO_FACTOR_METHOD); the owner gets a security alert.',
    path: '/api/auth/2fa/email',
    type: S2PrincipalResponseDto,
    ok: S2_EXAMPLE_PRINCIPAL,
    errors: [
      ...ACCESS_ERRORS,
      ...STEP_UP_ERRORS,
      ErrorCode.TwoFactorMethodAlreadyDisabled,
      ErrorCode.CannotDisableOnlyTwoFactorMethod,
    ],
    tokens: STEP_UP,
  })
  @Delete('email')
  @HttpCode(200)
  @S2Auth({ access: 'required' })
  @Requires2FA()
  async disableEmail(
    @Query() query: LocaleQueryDto,
    @S2Access() access: AuthenticatedSession,
    @S2Client() client: ClientInfo,
  ): Promise<S2PrincipalResponseDto> {
    await this.methods.disableEmail(access.user, client, { keepOne: true, reportUnchanged: true, locale: query.locale });
    return this.principal(access.user.id, access.user);
  }

  @S2Operation({
    summary: 'Start TOTP set-up: a secret, its otpauth:// URL and the recovery codes',
    description:
      'Confirm with POST 2fa/totp/setup and the `token` (valid TWO_FACTOR_TOKEN_TTL_SECONDS); the recovery codes work once TOTP is on.',
    path: '/api/auth/2fa/totp/setup',
    type: S2TotpSetupResponseDto,
    ok: {
      secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
      totpAuthUrl: 'otpauth://totp/Two-Factor:alice?secret=...',
      recoveryCodes: ['K7M2QX9WRT'],
      token: 'v1...',
    },
    errors: [...ACCESS_ERRORS, ...STEP_UP_ERRORS, ErrorCode.TwoFactorMethodAlreadyEnabled],
    tokens: STEP_UP,
  })
  @Get('totp/setup')
  @S2Auth({ access: 'required' })
  @Requires2FA()
  async totpSetup(@S2Access() access: AuthenticatedSession): Promise<S2TotpSetupResponseDto> {
    const setup = await this.methods.beginTotpSetupWithRecoveryCodes(access.user);
    return {
      secret: setup.secret,
      totpAuthUrl: setup.url,
      recoveryCodes: setup.recoveryCodes,
      token: this.setupTokens.issue(access.user.id, setup.fingerprint),
    };
  }

  @S2Operation({
    summary: 'Confirm TOTP set-up with a code from the app',
    description: 'TOTP becomes the preferred method; every other session ends; the owner gets a security alert.',
    path: '/api/auth/2fa/totp/setup',
    type: S2PrincipalResponseDto,
    ok: { ...S2_EXAMPLE_PRINCIPAL, preferredTwoFactorMethod: 'totp', twoFactorMethods: ['totp', 'email'] },
    errors: [
      ...ACCESS_ERRORS,
      ...STEP_UP_ERRORS,
      ErrorCode.TwoFactorInvalid,
      ErrorCode.TotpSetupTokenInvalid,
      ErrorCode.TotpSetupTokenExpired,
      ErrorCode.RateLimitUnavailable,
    ],
    tokens: STEP_UP,
  })
  @Post('totp/setup')
  @HttpCode(200)
  @CodeCheck()
  @S2Auth({ access: 'required' })
  @Requires2FA()
  async confirmTotp(
    @Body() body: TotpSetupDto,
    @Query() query: LocaleQueryDto,
    @S2Access() access: AuthenticatedSession,
    @S2Client() client: ClientInfo,
  ): Promise<S2PrincipalResponseDto> {
    const fingerprint = this.setupTokens.verify(body.token, access.user.id);
    await this.methods
      .enableTotp(access.user, body.code, access.session.id, client, {
        setupFingerprint: fingerprint,
        keepBackupCodes: true,
        locale: query.locale,
      })
      .catch((error: unknown) => {
        // Singularity's answer to a code that does not match the new secret.
        if (error instanceof DomainError && error.code === ErrorCode.InvalidCode) {
          throw new DomainError(ErrorCode.TwoFactorInvalid, 'Wrong two-factor code.');
        }
        throw error;
      });
    // As Singularity does: the authenticator just set up is asked for first.
    await this.methods.setPreferredMethod(access.user, 'totp');
    return this.principal(access.user.id, access.user);
  }

  @S2Operation({
    summary: 'Turn TOTP off (and its recovery codes)',
    path: '/api/auth/2fa/totp',
    type: S2PrincipalResponseDto,
    ok: S2_EXAMPLE_PRINCIPAL,
    errors: [
      ...ACCESS_ERRORS,
      ...STEP_UP_ERRORS,
      ErrorCode.TwoFactorMethodAlreadyDisabled,
      ErrorCode.CannotDisableOnlyTwoFactorMethod,
    ],
    tokens: STEP_UP,
  })
  @Delete('totp')
  @HttpCode(200)
  @S2Auth({ access: 'required' })
  @Requires2FA()
  async disableTotp(
    @Query() query: LocaleQueryDto,
    @S2Access() access: AuthenticatedSession,
    @S2Client() client: ClientInfo,
  ): Promise<S2PrincipalResponseDto> {
    await this.methods.disableTotp(access.user, client, { keepOne: true, reportUnchanged: true, locale: query.locale });
    return this.principal(access.user.id, access.user);
  }

  /** The access token's user, or else the user of the two-factor token's pending attempt. */
  private async subjectOf(s2: S2Context): Promise<User> {
    if (s2.access) return s2.access.user;
    const claims = s2.twoFactor!;
    const { user } = await this.challenges.findOpen(claims.challenge, claims.purpose);
    if (user.id !== claims.sub)
      throw new DomainError(ErrorCode.TwoFactorTokenInvalid, 'The two-factor token belongs to another user');
    return user;
  }

  /** The user as they are now (the change just made included). */
  private async principal(userId: string, fallback: User): Promise<S2PrincipalResponseDto> {
    const user = (await this.accounts.findUser(userId)) ?? fallback;
    return presentPrincipal(await this.accounts.profileOf(user), this.clock.now());
  }
}
