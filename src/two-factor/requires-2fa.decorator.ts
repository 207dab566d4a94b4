import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { TwoFactorGuard } from './two-factor.guard.js';
import { REQUIRES_2FA, type Requires2FAOptions } from './two-factor.types.js';

export { REQUIRES_2FA, type Requires2FAOptions };

/**
 * Puts the second-factor handshake in front of a route. The request must already be
 * authenticated: the app's own guard sets `request.twoFactorSubject` ({ user, session }) and the
 * attempt as its surface reads it (or a gate, see TwoFactorGuard). How the client sends the code is
 * the surface's to document (surface 1: V1Requires2FA adds the x-2fa-* headers).
 */
export const Requires2FA = (options: Requires2FAOptions = {}) =>
  applyDecorators(
    SetMetadata(REQUIRES_2FA, {
      rememberable: options.rememberable ?? true,
      passwordFallback: options.passwordFallback ?? true,
    } satisfies Required<Requires2FAOptions>),
    UseGuards(TwoFactorGuard),
  );
