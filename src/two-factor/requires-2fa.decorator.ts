import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { TwoFactorGuard } from './two-factor.guard.js';
import { REQUIRES_2FA, type Requires2FAOptions } from './two-factor.types.js';

export { REQUIRES_2FA, type Requires2FAOptions };

/**
 * Puts the second-factor handshake in front of a route. The request must already be
 * authenticated: the app's own guard sets `request.twoFactorSubject` ({ user, session }).
 */
export const Requires2FA = (options: Requires2FAOptions = {}) =>
  applyDecorators(
    SetMetadata(REQUIRES_2FA, {
      rememberable: options.rememberable ?? true,
      passwordFallback: options.passwordFallback ?? true,
    } satisfies Required<Requires2FAOptions>),
    UseGuards(TwoFactorGuard),
    ApiHeader({ name: 'x-2fa-code', required: false, description: 'The second-factor code, after a totp-required answer' }),
    ApiHeader({ name: 'x-2fa-method', required: false, description: 'totp, email or password (hex SHA-256 of the password)' }),
  );
