import { Body, HttpCode, Post } from '@nestjs/common';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';
import { Requires2FA } from '../../two-factor/requires-2fa.decorator.js';
import { TwoFactorService } from '../../two-factor/two-factor.service.js';
import { SendEmailCodeDto } from './dto/two-factor.dto.js';
import { CurrentAuth, V1Authenticated } from './v1-auth.guard.js';
import { V1Controller } from './v1-controller.decorator.js';

@V1Controller('two-factor')
export class TwoFactorController {
  constructor(private readonly twoFactor: TwoFactorService) {}

  @Post('users.2fa.enableEmail')
  @HttpCode(200)
  @V1Authenticated()
  async enableEmail(@CurrentAuth() auth: AuthenticatedSession) {
    await this.twoFactor.enableEmail(auth.user, auth.session.id);
    return { success: true };
  }

  @Post('users.2fa.disableEmail')
  @HttpCode(200)
  @V1Authenticated()
  @Requires2FA({ rememberable: false })
  async disableEmail(@CurrentAuth() auth: AuthenticatedSession) {
    await this.twoFactor.disableEmail(auth.user);
    return { success: true };
  }

  /** Same answer, in the same time, whether or not the user exists (unless the legacy mode is on). */
  @Post('users.2fa.sendEmailCode')
  @HttpCode(200)
  async sendEmailCode(@Body() body: SendEmailCodeDto) {
    const result = await this.twoFactor.requestEmailCode(body.emailOrUsername);
    return result.revealed ? { success: true, emails: result.addresses } : { success: true };
  }
}
