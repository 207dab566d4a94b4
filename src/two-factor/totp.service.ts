import { Inject, Injectable } from '@nestjs/common';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import { DataSource, EntityManager } from 'typeorm';
import { decrypt, encrypt } from '../common/aes-gcm.js';
import { Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { SecretKeys } from '../common/secret-keys.js';
import { AppConfig } from '../config/app-config.js';
import type { User } from '../users/user.entity.js';
import { TwoFactorMethodsRepository } from './repositories/two-factor-methods.repository.js';

/** RFC 6238 as every authenticator app does it: HMAC-SHA-1, 6 digits, 30-second steps. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one (clock drift, a code typed at the end of its step). */
export const TOTP_WINDOW_STEPS = 1;
/** 20 random bytes (160 bits, RFC 4226's recommendation): 32 base32 characters. */
const SECRET_BYTES = 20;

export interface TotpSetup {
  /** Base32, for typing into an authenticator app by hand. */
  secret: string;
  /** `otpauth://totp/<issuer>:<account>?secret=…&issuer=…` */
  url: string;
  /** The URL as a QR code, `data:image/png;base64,…`. */
  qrCode: string;
}

/** Accepts `123456` and `123 456`; null when it cannot be a TOTP code. */
export const normalizeTotpCode = (input: string): string | null => {
  const digits = input.replace(/[\s-]/g, '');
  return new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(digits) ? digits : null;
};

/**
 * TOTP secrets (AES-256-GCM encrypted at rest) and codes. The time is always our Clock's, passed
 * to otplib explicitly. An accepted time step, and every earlier one, is refused afterwards: the
 * step is recorded with one atomic UPDATE … WHERE last_totp_step < $step, so of two parallel
 * requests with one code exactly one succeeds.
 */
@Injectable()
export class TotpService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly methods: TwoFactorMethodsRepository,
    private readonly keys: SecretKeys,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /**
   * A new secret, stored as a pending method until confirmed; a pending one is replaced.
   * TotpAlreadyEnabled when TOTP is on.
   */
  async beginSetup(user: User): Promise<TotpSetup> {
    const secret = generateSecret({ length: SECRET_BYTES });
    if (!(await this.methods.savePendingTotp(user.id, this.seal(user.id, secret), this.clock.now()))) {
      throw new DomainError(ErrorCode.TotpAlreadyEnabled, 'TOTP is already enabled');
    }
    const url = generateURI({
      issuer: this.config.TOTP_ISSUER,
      label: user.username,
      secret,
      algorithm: 'sha1',
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD_SECONDS,
    });
    const qrCode = await QRCode.toDataURL(url, { errorCorrectionLevel: 'M', type: 'image/png' });
    return { secret, url, qrCode };
  }

  /** The pending secret's fingerprint (a set-up token binds it: a newer set-up makes an older token stale). */
  async pendingFingerprint(userId: string): Promise<string | null> {
    const method = await this.methods.findTotp(userId);
    return method?.status === 'pending' && method.secretEncrypted
      ? this.keys.hmac('code-hmac', userId, 'totp-setup', method.secretEncrypted)
      : null;
  }

  /**
   * Turns the pending method on when `input` is a current code for its secret (the step is
   * recorded, so the code cannot be used again). InvalidCode otherwise. `fingerprint`, when given,
   * must still be the pending secret's (pendingFingerprint).
   */
  async confirm(manager: EntityManager, userId: string, input: string, fingerprint?: string): Promise<void> {
    const method = await this.methods.findTotp(userId, manager);
    if (method?.status === 'enabled') throw new DomainError(ErrorCode.TotpAlreadyEnabled, 'TOTP is already enabled');
    if (!method?.secretEncrypted) {
      throw new DomainError(ErrorCode.InvalidCode, 'No TOTP set-up is pending; call users.2fa.enableTOTP first');
    }
    if (fingerprint !== undefined && fingerprint !== this.keys.hmac('code-hmac', userId, 'totp-setup', method.secretEncrypted)) {
      throw new DomainError(ErrorCode.TotpSetupTokenInvalid, 'This set-up was replaced by a newer one');
    }
    const code = normalizeTotpCode(input);
    const step = code ? await this.matchingStep(this.unseal(userId, method.secretEncrypted), code, null) : null;
    if (step === null) throw new DomainError(ErrorCode.InvalidCode, 'Invalid code');
    // Only the very secret just checked: a parallel set-up may have replaced it.
    if (!(await this.methods.enableTotp(manager, method.id, method.secretEncrypted, step, this.clock.now()))) {
      throw new DomainError(ErrorCode.InvalidCode, 'Invalid code');
    }
  }

  /** True when `input` is a code of the user's enabled TOTP for a step not used before; that step is then used up. */
  async verify(userId: string, input: string, db: EntityManager = this.dataSource.manager): Promise<boolean> {
    const code = normalizeTotpCode(input);
    if (!code) return false;
    const method = await this.methods.findTotp(userId, db);
    if (method?.status !== 'enabled' || !method.secretEncrypted) return false;
    const step = await this.matchingStep(this.unseal(userId, method.secretEncrypted), code, method.lastTotpStep);
    return step !== null && this.methods.useTotpStep(db, method.id, step);
  }

  /** Removes the method (pending or enabled); true when an enabled one was removed. */
  async remove(manager: EntityManager, userId: string): Promise<boolean> {
    return (await this.methods.remove(manager, userId, 'totp')) === 'enabled';
  }

  /** The time step (within ±TOTP_WINDOW_STEPS of now, after `afterStep`) whose code is `code`, or null. */
  private async matchingStep(secret: string, code: string, afterStep: number | null): Promise<number | null> {
    const epoch = Math.floor(this.clock.now().getTime() / 1000);
    const currentStep = Math.floor(epoch / TOTP_PERIOD_SECONDS);
    // Every step of the window is used already (otplib refuses an afterTimeStep beyond the window).
    if (afterStep !== null && afterStep >= currentStep + TOTP_WINDOW_STEPS) return null;
    try {
      const result = await verify({
        secret,
        token: code,
        algorithm: 'sha1',
        digits: TOTP_DIGITS,
        period: TOTP_PERIOD_SECONDS,
        epoch,
        epochTolerance: TOTP_PERIOD_SECONDS * TOTP_WINDOW_STEPS,
        ...(afterStep !== null ? { afterTimeStep: afterStep } : {}),
      });
      // The union also covers HOTP results, which carry no time step.
      return result.valid && 'timeStep' in result ? result.timeStep : null;
    } catch {
      // A malformed token or secret is simply not a match.
      return null;
    }
  }

  /** Bound to the user: a secret copied to another user's row does not decrypt. */
  private seal(userId: string, secret: string): string {
    return encrypt(this.keys.key('totp-encryption'), secret, `totp:${userId}`);
  }

  /** DatabaseEncryptionFailure when the stored secret does not decrypt (another APP_SECRET, or tampered). */
  private unseal(userId: string, sealed: string): string {
    try {
      return decrypt(this.keys.key('totp-encryption'), sealed, `totp:${userId}`);
    } catch {
      throw new DomainError(ErrorCode.DatabaseEncryptionFailure, 'The stored TOTP secret cannot be decrypted');
    }
  }
}
