import { randomInt } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { constantTimeEqualHex, SecretKeys } from '../common/secret-keys.js';
import { AppConfig } from '../config/app-config.js';
import { EmailCodesRepository, type OutstandingSummary } from './repositories/email-codes.repository.js';

/**
 * What the code was sent for; part of its HMAC, so a code for one purpose never passes another.
 * Every path that asks a user for an emailed second factor (both surfaces' handshakes, login
 * challenges, step-up) shares the one purpose: a code is the user's, and used once.
 */
export type CodePurpose = 'two-factor';
export const SECOND_FACTOR_PURPOSE: CodePurpose = 'two-factor';

export interface IssuedCode {
  code: string;
  expiresAt: Date;
}

/** How a code compares: right and in time, not one of the user's codes, or right but late. */
export type CodeCheck = 'verified' | 'invalid' | 'expired';

/** How long an expired code is still recognised as "expired" rather than "wrong". */
const RECOGNISE_EXPIRED_FOR_SECONDS = 86_400;

/** Accepts `123456`, `123-456` and `123 456`. */
export const normalizeEmailCode = (input: string): string | null => {
  const digits = input.trim().replace(/[-\s]/g, '');
  return /^\d{6}$/.test(digits) ? digits : null;
};

export const formatEmailCode = (code: string): string => `${code.slice(0, 3)}-${code.slice(3)}`;

/**
 * Codes sent by email: six random digits, stored as an HMAC bound to user and purpose, valid
 * EMAIL_CODE_TTL_SECONDS, at most EMAIL_CODE_MAX_OUTSTANDING at once, each used once.
 */
@Injectable()
export class EmailCodesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly codes: EmailCodesRepository,
    private readonly keys: SecretKeys,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** A new code; older outstanding ones beyond EMAIL_CODE_MAX_OUTSTANDING - 1 die. */
  async issue(manager: EntityManager, userId: string, purpose: CodePurpose): Promise<IssuedCode> {
    const now = this.clock.now();
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const expiresAt = addSeconds(now, this.config.EMAIL_CODE_TTL_SECONDS);
    await this.codes.retireBeyond(manager, userId, purpose, this.config.EMAIL_CODE_MAX_OUTSTANDING - 1, now);
    await this.codes.insert(manager, { userId, purpose, codeHmac: this.hmac(userId, purpose, code), expiresAt, now });
    return { code, expiresAt };
  }

  outstanding(userId: string, purpose: CodePurpose, db?: EntityManager): Promise<OutstandingSummary> {
    return this.codes.outstanding(userId, purpose, this.clock.now(), db);
  }

  /** Seconds until EMAIL_CODE_RESEND_AFTER_SECONDS have passed since the newest valid code (0: a code may go out). */
  cooldownSeconds(summary: OutstandingSummary): number {
    if (!summary.newestCreatedAt) return 0;
    const endsAt = addSeconds(summary.newestCreatedAt, this.config.EMAIL_CODE_RESEND_AFTER_SECONDS).getTime();
    return Math.max(0, Math.ceil((endsAt - this.clock.now().getTime()) / 1000));
  }

  /**
   * Checks `input` against the user's unused codes and uses it up when it is right and in time.
   * The HMACs are compared in constant time, every one of them; the final UPDATE … WHERE
   * consumed_at IS NULL makes the use atomic, so of parallel requests with one code exactly one
   * gets 'verified' (the others 'invalid'). A right code past its lifetime is 'expired'.
   */
  async check(
    userId: string,
    purpose: CodePurpose,
    input: string,
    db: EntityManager = this.dataSource.manager,
  ): Promise<CodeCheck> {
    const code = normalizeEmailCode(input);
    const now = this.clock.now();
    const candidates = await this.codes.unused(db, userId, purpose, addSeconds(now, -RECOGNISE_EXPIRED_FOR_SECONDS));
    const expected = this.hmac(userId, purpose, code ?? 'invalid');
    let match: (typeof candidates)[number] | null = null;
    for (const candidate of candidates) {
      // No early exit: every candidate is compared.
      if (constantTimeEqualHex(candidate.codeHmac, expected) && code !== null) match = candidate;
    }
    if (!match) return 'invalid';
    if (match.expiresAt <= now) return 'expired';
    return (await this.codes.markConsumed(db, match.id, now)) ? 'verified' : 'invalid';
  }

  async invalidateAll(userId: string, purpose: CodePurpose, db: EntityManager = this.dataSource.manager): Promise<void> {
    await this.codes.invalidateAll(db, userId, purpose, this.clock.now());
  }

  private hmac(userId: string, purpose: string, code: string): string {
    return this.keys.hmac('code-hmac', userId, purpose, code);
  }
}
