import { randomInt } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { constantTimeEqualHex, SecretKeys } from '../common/secret-keys.js';
import { AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';
import { EmailCode } from './email-code.entity.js';

/** What the code was sent for; part of its HMAC, so a code for one purpose never passes another. */
export type CodePurpose = 'two-factor' | 'login' | 'step-up';

export interface IssuedCode {
  code: string;
  expiresAt: Date;
}

export interface OutstandingCodes {
  count: number;
  newestCreatedAt: Date | null;
  newestExpiresAt: Date | null;
}

/** Accepts `123456`, `123-456` and `123 456`. */
export const normalizeEmailCode = (input: string): string | null => {
  const digits = input.trim().replace(/[-\s]/g, '');
  return /^\d{6}$/.test(digits) ? digits : null;
};

export const formatEmailCode = (code: string): string => `${code.slice(0, 3)}-${code.slice(3)}`;

@Injectable()
export class EmailCodesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: SecretKeys,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** A new code; older outstanding ones beyond EMAIL_CODE_MAX_OUTSTANDING - 1 die. */
  async issue(manager: EntityManager, userId: string, purpose: CodePurpose): Promise<IssuedCode> {
    const now = this.clock.now();
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const expiresAt = addSeconds(now, this.config.EMAIL_CODE_TTL_SECONDS);
    await manager.query(
      `UPDATE email_codes SET consumed_at = $4
        WHERE id IN (SELECT id FROM email_codes
                      WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $4
                      ORDER BY created_at DESC, id DESC OFFSET $3)`,
      [userId, purpose, this.config.EMAIL_CODE_MAX_OUTSTANDING - 1, now],
    );
    await manager.insert(EmailCode, {
      userId,
      purpose,
      // Codes are the user's, shared by the handshake and login challenges (see ChallengesService).
      challengeId: null,
      codeHmac: this.hmac(userId, purpose, code),
      expiresAt,
      consumedAt: null,
      createdAt: now,
    });
    return { code, expiresAt };
  }

  async outstanding(userId: string, purpose: CodePurpose): Promise<OutstandingCodes> {
    const [row] = await queryRows<{ count: string; newest_created: Date | null; newest_expires: Date | null }>(
      this.dataSource,
      `SELECT count(*) AS count, max(created_at) AS newest_created, max(expires_at) AS newest_expires
         FROM email_codes WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3`,
      [userId, purpose, this.clock.now()],
    );
    return {
      count: Number(row?.count ?? 0),
      newestCreatedAt: row?.newest_created ?? null,
      newestExpiresAt: row?.newest_expires ?? null,
    };
  }

  /**
   * True when `input` matches an outstanding code, which is then used up. The HMACs are compared
   * in constant time; the final UPDATE … WHERE consumed_at IS NULL makes the use atomic, so of two
   * parallel requests with one code exactly one succeeds.
   */
  async consume(
    userId: string,
    purpose: CodePurpose,
    input: string,
    db: EntityManager = this.dataSource.manager,
  ): Promise<boolean> {
    const code = normalizeEmailCode(input);
    const now = this.clock.now();
    const candidates = await queryRows<{ id: string; code_hmac: string }>(
      db,
      `SELECT id, code_hmac FROM email_codes
        WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3`,
      [userId, purpose, now],
    );
    const expected = this.hmac(userId, purpose, code ?? 'invalid');
    let matchId: string | null = null;
    for (const candidate of candidates) {
      // No early exit: every candidate is compared.
      if (constantTimeEqualHex(candidate.code_hmac, expected) && code !== null) matchId = String(candidate.id);
    }
    return matchId !== null && this.markConsumed(db, matchId, now);
  }

  /**
   * Uses up a code found outstanding a moment ago. Only the request whose UPDATE still finds it
   * unused wins: parallel requests that all read it as outstanding cannot all use it.
   */
  async markConsumed(db: EntityManager, codeId: string, now: Date): Promise<boolean> {
    const used = await queryRows(
      db,
      `UPDATE email_codes SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING id`,
      [codeId, now],
    );
    return used.length === 1;
  }

  async invalidateAll(userId: string, purpose: CodePurpose, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.query(`UPDATE email_codes SET consumed_at = $3 WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL`, [
      userId,
      purpose,
      this.clock.now(),
    ]);
  }

  private hmac(userId: string, purpose: string, code: string): string {
    return this.keys.hmac('code-hmac', userId, purpose, code);
  }
}
