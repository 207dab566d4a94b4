import { Inject, Injectable } from '@nestjs/common';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import { DataSource, EntityManager } from 'typeorm';
import { decrypt, encrypt } from '../common/aes-gcm.js';
import { Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { SecretKeys } from '../common/secret-keys.js';
import { AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';
import type { User } from '../users/user.entity.js';
import { TwoFactorMethod } from './two-factor-method.entity.js';

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
    const replaced = await queryRows(
      this.dataSource,
      `INSERT INTO two_factor_methods (user_id, method, status, secret_encrypted, last_totp_step, changed_at)
       VALUES ($1, 'totp', 'pending', $2, NULL, $3)
       ON CONFLICT (user_id, method) DO UPDATE
          SET secret_encrypted = EXCLUDED.secret_encrypted, last_totp_step = NULL, changed_at = EXCLUDED.changed_at
        WHERE two_factor_methods.status = 'pending'
       RETURNING id`,
      [user.id, this.seal(user.id, secret), this.clock.now()],
    );
    if (replaced.length === 0) throw new DomainError(ErrorCode.TotpAlreadyEnabled, 'TOTP is already enabled');
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

  /**
   * Turns the pending method on when `input` is a current code for its secret (the step is
   * recorded, so the code cannot be used again). InvalidCode otherwise.
   */
  async confirm(manager: EntityManager, userId: string, input: string): Promise<void> {
    const method = await manager.findOne(TwoFactorMethod, { where: { userId, method: 'totp' } });
    if (method?.status === 'enabled') throw new DomainError(ErrorCode.TotpAlreadyEnabled, 'TOTP is already enabled');
    if (!method?.secretEncrypted) {
      throw new DomainError(ErrorCode.InvalidCode, 'No TOTP set-up is pending; call users.2fa.enableTOTP first');
    }
    const code = normalizeTotpCode(input);
    const step = code ? await this.matchingStep(this.unseal(userId, method.secretEncrypted), code, null) : null;
    if (step === null) throw new DomainError(ErrorCode.InvalidCode, 'Invalid code');
    // Only the very secret just checked: a parallel enableTOTP may have replaced it.
    const enabled = await queryRows(
      manager,
      `UPDATE two_factor_methods SET status = 'enabled', last_totp_step = $3, changed_at = $4
        WHERE id = $1 AND status = 'pending' AND secret_encrypted = $2 RETURNING id`,
      [method.id, method.secretEncrypted, step, this.clock.now()],
    );
    if (enabled.length === 0) throw new DomainError(ErrorCode.InvalidCode, 'Invalid code');
  }

  /** True when `input` is a code of the user's enabled TOTP for a step not used before; that step is then used up. */
  async verify(userId: string, input: string, db: EntityManager = this.dataSource.manager): Promise<boolean> {
    const code = normalizeTotpCode(input);
    if (!code) return false;
    const method = await db.getRepository(TwoFactorMethod).findOne({ where: { userId, method: 'totp', status: 'enabled' } });
    if (!method?.secretEncrypted) return false;
    const lastStep = method.lastTotpStep === null ? null : Number(method.lastTotpStep);
    const step = await this.matchingStep(this.unseal(userId, method.secretEncrypted), code, lastStep);
    if (step === null) return false;
    const used = await queryRows(
      db,
      `UPDATE two_factor_methods SET last_totp_step = $2
        WHERE id = $1 AND status = 'enabled' AND (last_totp_step IS NULL OR last_totp_step < $2) RETURNING id`,
      [method.id, step],
    );
    return used.length === 1;
  }

  /** Removes the method (pending or enabled); true when an enabled one was removed. */
  async remove(manager: EntityManager, userId: string): Promise<boolean> {
    const removed = await queryRows<{ status: string }>(
      manager,
      `DELETE FROM two_factor_methods WHERE user_id = $1 AND method = 'totp' RETURNING status`,
      [userId],
    );
    return removed.some((row) => row.status === 'enabled');
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

  private unseal(userId: string, sealed: string): string {
    return decrypt(this.keys.key('totp-encryption'), sealed, `totp:${userId}`);
  }
}
