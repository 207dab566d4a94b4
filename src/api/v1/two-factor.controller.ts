import { Body, Get, HttpCode, Post, Query } from '@nestjs/common';
import { AuditService } from '../../audit/audit.service.js';
import { ErrorCode } from '../../common/domain-error.js';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';
import { EmailCodeSender } from '../../two-factor/email-code-sender.service.js';
import { TwoFactorMethodsService } from '../../two-factor/two-factor-methods.service.js';
import { TwoFactorService } from '../../two-factor/two-factor.service.js';
import type { ClientInfo } from '../../two-factor/two-factor.types.js';
import { PaginationQueryDto, SendEmailCodeDto, UnlockUserDto, ValidateTotpDto } from './dto/two-factor.dto.js';
import { ClientOf, CurrentAuth, V1Authenticated, V1Requires2FA } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';
import {
  V1AuditEventsResponseDto,
  V1BackupCodesRemainingResponseDto,
  V1BackupCodesResponseDto,
  V1SendEmailCodeResponseDto,
  V1SuccessResponseDto,
  V1TotpSetupResponseDto,
} from './dto/v1-responses.dto.js';
import { V1_EXAMPLE } from './v1-examples.js';
import { V1_HANDSHAKE_ERRORS, V1Operation } from './v1-openapi.js';

@V1Controller('two-factor')
export class TwoFactorController {
  constructor(
    private readonly twoFactor: TwoFactorService,
    private readonly methods: TwoFactorMethodsService,
    private readonly sender: EmailCodeSender,
    private readonly audit: AuditService,
  ) {}

  @V1Operation({
    summary: 'Turn on email 2FA',
    description: 'Needs a verified email; ends every other login session of the user (not personal access tokens).',
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [ErrorCode.NoVerifiedEmail],
  })
  @Post('users.2fa.enableEmail')
  @HttpCode(200)
  @V1Authenticated()
  async enableEmail(@CurrentAuth() auth: AuthenticatedSession, @ClientOf() client: ClientInfo): Promise<V1SuccessResponseDto> {
    await this.methods.enableEmail(auth.user, auth.session.id, client);
    return { success: true };
  }

  @V1Operation({
    summary: 'Turn off email 2FA',
    description: 'Asks for a second factor every time (not rememberable).',
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.TwoFactorRequiredByPolicy],
  })
  @Post('users.2fa.disableEmail')
  @HttpCode(200)
  @V1Authenticated()
  @V1Requires2FA({ rememberable: false })
  async disableEmail(@CurrentAuth() auth: AuthenticatedSession, @ClientOf() client: ClientInfo): Promise<V1SuccessResponseDto> {
    await this.methods.disableEmail(auth.user, client);
    return { success: true };
  }

  /** A new TOTP secret, pending until validateTOTP; calling again while pending replaces it. */
  @V1Operation({
    summary: 'Start TOTP set-up: a new secret, pending until validateTOTP',
    type: V1TotpSetupResponseDto,
    ok: {
      success: true,
      secret: V1_EXAMPLE.totpSecret,
      url: `otpauth://totp/Two-Factor:alice?secret=${V1_EXAMPLE.totpSecret}&issuer=Two-Factor`,
      qrCode: 'data:image/png;base64,iVBORw0KGgo...',
    },
    errors: [ErrorCode.TotpAlreadyEnabled],
  })
  @Post('users.2fa.enableTOTP')
  @HttpCode(200)
  @V1Authenticated()
  async enableTotp(@CurrentAuth() auth: AuthenticatedSession): Promise<V1TotpSetupResponseDto> {
    const { secret, url, qrCode } = await this.methods.beginTotpSetup(auth.user);
    return { success: true, secret, url, qrCode };
  }

  /** Turns TOTP on with a code from the app; the backup codes are shown this once. */
  @V1Operation({
    summary: 'Turn TOTP on with a code from the app',
    description:
      'Returns the 10 backup codes, shown this once; ends every other login session of the user. A user who already ' +
      'has a second factor goes through the 2FA handshake first (remembered for this client counts).',
    type: V1BackupCodesResponseDto,
    ok: { success: true, backupCodes: V1_EXAMPLE.backupCodes },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.ParameterRequired, ErrorCode.InvalidCode, ErrorCode.TotpAlreadyEnabled],
  })
  @Post('users.2fa.validateTOTP')
  @HttpCode(200)
  @V1Authenticated()
  // A user who already has a second factor must give it: a stolen session alone must not enrol
  // the thief's authenticator. A user with none enrols with the session alone, as API.md says.
  @V1Requires2FA({ passwordFallback: false })
  async validateTotp(
    @CurrentAuth() auth: AuthenticatedSession,
    @Body() body: ValidateTotpDto,
    @ClientOf() client: ClientInfo,
  ): Promise<V1BackupCodesResponseDto> {
    const backupCodes = await this.methods.enableTotp(auth.user, body.code, auth.session.id, client);
    return { success: true, backupCodes };
  }

  @V1Operation({
    summary: 'Turn TOTP off (and delete the backup codes)',
    description: 'Asks for a second factor every time (not rememberable).',
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.TwoFactorRequiredByPolicy],
  })
  @Post('users.2fa.disableTOTP')
  @HttpCode(200)
  @V1Authenticated()
  @V1Requires2FA({ rememberable: false })
  async disableTotp(@CurrentAuth() auth: AuthenticatedSession, @ClientOf() client: ClientInfo): Promise<V1SuccessResponseDto> {
    await this.methods.disableTotp(auth.user, client);
    return { success: true };
  }

  @V1Operation({
    summary: 'Replace every backup code',
    description: 'Asks for a second factor every time (not rememberable).',
    type: V1BackupCodesResponseDto,
    ok: { success: true, backupCodes: V1_EXAMPLE.backupCodes },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.TotpNotEnabled],
  })
  @Post('users.2fa.regenerateBackupCodes')
  @HttpCode(200)
  @V1Authenticated()
  @V1Requires2FA({ rememberable: false })
  async regenerateBackupCodes(
    @CurrentAuth() auth: AuthenticatedSession,
    @ClientOf() client: ClientInfo,
  ): Promise<V1BackupCodesResponseDto> {
    const backupCodes = await this.methods.regenerateBackupCodes(auth.user, client);
    return { success: true, backupCodes };
  }

  @V1Operation({
    summary: 'How many backup codes are left',
    type: V1BackupCodesRemainingResponseDto,
    ok: { success: true, remaining: 9 },
  })
  @Get('users.2fa.backupCodesRemaining')
  @V1Authenticated()
  async backupCodesRemaining(@CurrentAuth() auth: AuthenticatedSession): Promise<V1BackupCodesRemainingResponseDto> {
    return { success: true, remaining: await this.methods.backupCodesRemaining(auth.user.id) };
  }

  /** Not in Rocket.Chat: the way out of a lasting lock (LOCKOUT_MAX_FAILURES consecutive failures). */
  @V1Operation({
    summary: "Lift a user's second-factor lock (admins)",
    type: V1SuccessResponseDto,
    ok: { success: true },
    errors: [...V1_HANDSHAKE_ERRORS, ErrorCode.ParameterRequired, ErrorCode.UserNotFound],
  })
  @Post('users.2fa.unlock')
  @HttpCode(200)
  @V1Authenticated({ roles: ['admin'] })
  @V1Requires2FA({ rememberable: false })
  async unlock(
    @CurrentAuth() auth: AuthenticatedSession,
    @Body() body: UnlockUserDto,
    @ClientOf() client: ClientInfo,
  ): Promise<V1SuccessResponseDto> {
    await this.twoFactor.unlock(auth.user, body.userId, client);
    return { success: true };
  }

  /** The caller's own second-factor events, newest first. */
  @V1Operation({
    summary: "The caller's second-factor events, newest first",
    type: V1AuditEventsResponseDto,
    ok: {
      success: true,
      events: [
        {
          _id: '42',
          type: 'second_factor_verified',
          method: 'email',
          outcome: 'success',
          ip: '192.0.2.10',
          userAgent: 'Example/1.0',
          ts: '2025-01-01T12:00:00.000Z',
        },
      ],
      count: 1,
      offset: 0,
      total: 1,
    },
    errors: [ErrorCode.InvalidParams],
  })
  @Get('users.2fa.events')
  @V1Authenticated()
  async events(@CurrentAuth() auth: AuthenticatedSession, @Query() query: PaginationQueryDto): Promise<V1AuditEventsResponseDto> {
    const count = query.count ?? 50;
    const offset = query.offset ?? 0;
    const { events, total } = await this.audit.list(auth.user.id, { count, offset });
    return {
      success: true,
      events: events.map((event) => ({
        _id: event.id,
        type: event.type,
        method: event.method,
        outcome: event.outcome,
        ip: event.ip,
        userAgent: event.userAgent,
        ts: event.at.toISOString(),
      })),
      count: events.length,
      offset,
      total,
    };
  }

  /** Same answer, in the same time, whether or not the user exists (unless the legacy mode is on). */
  @V1Operation({
    summary: 'Email a 2FA code to every verified address of a user',
    description:
      'The same answer, in the same time, whether or not the user exists. With COMPAT_SEND_EMAIL_CODE_REVEALS_USER=true it answers as Rocket.Chat does: ' +
      '`{success, emails}`, and error-invalid-user for an unknown user.',
    type: V1SendEmailCodeResponseDto,
    ok: { success: true },
    errors: [
      ErrorCode.ParameterRequired,
      {
        code: ErrorCode.NoVerifiedEmail,
        summary: 'Unknown user (only with COMPAT_SEND_EMAIL_CODE_REVEALS_USER=true)',
        message: 'Invalid user',
      },
    ],
  })
  @Post('users.2fa.sendEmailCode')
  @HttpCode(200)
  async sendEmailCode(@Body() body: SendEmailCodeDto, @ClientOf() client: ClientInfo): Promise<V1SendEmailCodeResponseDto> {
    const result = await this.sender.requestFor(body.emailOrUsername, client);
    return result.revealed ? { success: true, emails: result.addresses } : { success: true };
  }
}
