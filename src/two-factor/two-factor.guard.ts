import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { routeMetadata } from '../common/route-metadata.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { TwoFactorService } from './two-factor.service.js';
import {
  type ClientInfo,
  REQUIRES_2FA,
  type Requires2FAOptions,
  type TwoFactorAttempt,
  type TwoFactorSubject,
} from './two-factor.types.js';

/**
 * The request fields the guard reads. The surface's authentication guard sets the subject and
 * reads the second factor the client sent, in that surface's own terms (surface 1: `x-2fa-*`).
 * A surface whose second factor is proven another way (surface 2: a step-up token) sets a gate
 * instead, and the guard asks it.
 */
export interface TwoFactorRequest {
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
  twoFactorSubject?: TwoFactorSubject;
  twoFactorAttempt?: TwoFactorAttempt;
  twoFactorGate?: (options: Required<Requires2FAOptions>) => Promise<void>;
}

const header = (request: TwoFactorRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export const clientInfoOf = (request: TwoFactorRequest): ClientInfo => ({
  ip: request.ip ?? '',
  userAgent: header(request, 'user-agent') ?? '',
});

@Injectable()
export class TwoFactorGuard implements CanActivate {
  constructor(private readonly twoFactor: TwoFactorService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const options = routeMetadata<Required<Requires2FAOptions>>(REQUIRES_2FA, context);
    if (!options) return true;
    const request = context.switchToHttp().getRequest<TwoFactorRequest>();
    if (request.twoFactorGate) {
      await request.twoFactorGate(options);
      return true;
    }
    if (!request.twoFactorSubject) {
      throw new DomainError(ErrorCode.AuthenticationRequired, 'You must be logged in to do this.');
    }
    await this.twoFactor.check(request.twoFactorSubject, request.twoFactorAttempt ?? {}, clientInfoOf(request), {
      rememberable: options.rememberable,
      passwordFallback: options.passwordFallback,
    });
    return true;
  }
}
