import { DomainError, type ErrorCode } from '../common/domain-error.js';
import type { TwoFactorState } from './two-factor.types.js';

export type TwoFactorErrorCode =
  | ErrorCode.TwoFactorRequired
  | ErrorCode.TwoFactorInvalid
  | ErrorCode.TwoFactorCodeExpired
  | ErrorCode.TwoFactorMaxAttempts
  | ErrorCode.TwoFactorLocked;

/**
 * A handshake answer that is not a pass: the second factor is needed, wrong, expired, used up or
 * locked. It carries where the user's second factor stands, in neutral terms; each surface
 * renders that its own way.
 */
export class TwoFactorError extends DomainError {
  constructor(
    code: TwoFactorErrorCode,
    message: string,
    readonly state: TwoFactorState,
  ) {
    super(code, message);
    this.name = 'TwoFactorError';
  }
}

export const isTwoFactorError = (value: unknown): value is TwoFactorError => value instanceof TwoFactorError;
