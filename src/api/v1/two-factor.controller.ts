import { Body, Get, HttpCode, Post, Query } from '@nestjs/common';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';
import { Requires2FA } from '../../two-factor/requires-2fa.decorator.js';
import { TwoFactorService } from '../../two-factor/two-factor.service.js';
import type { ClientInfo } from '../../two-factor/two-factor.types.js';
import { PaginationQueryDto, SendEmailCodeDto, ValidateTotpDto } from './dto/two-factor.dto.js';
import { ClientOf, CurrentAuth, V1Authenticated } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';

@V1Controller('two-factor')
export class TwoFactorController {
  constructor(
    private readonly twoFactor: TwoFactorService,
    private readonly audit: AuditService,
  ) {}

  @Post('users.2fa.enableEmail')
  @HttpCode(200)
  @V1Authenticated()
  async enableEmail(@CurrentAuth() auth: AuthenticatedSession, @ClientOf() client: ClientInfo) {
    await this.twoFactor.enableEmail(auth.user, auth.session.id, client);
    return { success: true };
  }

  @Post('users.2fa.disableEmail')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA({ rememberable: false })
  async disableEmail(@CurrentAuth() auth: AuthenticatedSession, @ClientOf() client: ClientInfo) {
    await this.twoFactor.disableEmail(auth.user, client);
    return { success: true };
  }

  /** A new TOTP secret, pending until validateTOTP; calling again while pending replaces it. */
  @Post('users.2fa.enableTOTP')
  @HttpCode(200)
  @V1Authenticated()
  async enableTotp(@CurrentAuth() auth: AuthenticatedSession) {
    const { secret, url, qrCode } = await this.twoFactor.beginTotpSetup(auth.user);
    return { success: true, secret, url, qrCode };
  }

  /** Turns TOTP on with a code from the app; the backup codes are shown this once. */
  @Post('users.2fa.validateTOTP')
  @HttpCode(200)
  @V1Authenticated()
  async validateTotp(@CurrentAuth() auth: AuthenticatedSession, @Body() body: ValidateTotpDto, @ClientOf() client: ClientInfo) {
    const backupCodes = await this.twoFactor.enableTotp(auth.user, body.code, auth.session.id, client);
    return { success: true, backupCodes };
  }

  @Post('users.2fa.disableTOTP')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA({ rememberable: false })
  async disableTotp(@CurrentAuth() auth: AuthenticatedSession, @ClientOf() client: ClientInfo) {
    await this.twoFactor.disableTotp(auth.user, client);
    return { success: true };
  }

  @Post('users.2fa.regenerateBackupCodes')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA({ rememberable: false })
  async regenerateBackupCodes(@CurrentAuth() auth: AuthenticatedSession, @ClientOf() client: ClientInfo) {
    const backupCodes = await this.twoFactor.regenerateBackupCodes(auth.user, client);
    return { success: true, backupCodes };
  }

  @Get('users.2fa.backupCodesRemaining')
  @V1Authenticated()
  async backupCodesRemaining(@CurrentAuth() auth: AuthenticatedSession) {
    return { success: true, remaining: await this.twoFactor.backupCodesRemaining(auth.user.id) };
  }

  /** The caller's own second-factor events, newest first. */
  @Get('users.2fa.events')
  @V1Authenticated()
  async events(@CurrentAuth() auth: AuthenticatedSession, @Query() query: PaginationQueryDto) {
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
  @Post('users.2fa.sendEmailCode')
  @HttpCode(200)
  async sendEmailCode(@Body() body: SendEmailCodeDto, @ClientOf() client: ClientInfo) {
    const result = await this.twoFactor.requestEmailCode(body.emailOrUsername, client);
    return result.revealed ? { success: true, emails: result.addresses } : { success: true };
  }
}
