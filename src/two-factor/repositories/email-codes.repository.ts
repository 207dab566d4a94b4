import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../../database/query-rows.js';

export interface OutstandingSummary {
  count: number;
  newestCreatedAt: Date | null;
  newestExpiresAt: Date | null;
}

export interface UnusedCode {
  id: string;
  codeHmac: string;
  expiresAt: Date;
}

/** The `email_codes` table: HMACs of mailed codes, their lifetime and their single use. */
@Injectable()
export class EmailCodesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Retires the valid codes beyond the newest `keep` ones. */
  async retireBeyond(db: EntityManager, userId: string, purpose: string, keep: number, now: Date): Promise<void> {
    await db.query(
      `UPDATE email_codes SET consumed_at = $4
        WHERE id IN (SELECT id FROM email_codes
                      WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $4
                      ORDER BY created_at DESC, id DESC OFFSET $3)`,
      [userId, purpose, keep, now],
    );
  }

  async insert(
    db: EntityManager,
    code: { userId: string; purpose: string; codeHmac: string; expiresAt: Date; now: Date },
  ): Promise<void> {
    // Plain SQL (one per code mailed). challenge_id stays null: codes are the user's, shared by
    // every path that asks for one.
    await db.query(
      `INSERT INTO email_codes (user_id, purpose, challenge_id, code_hmac, expires_at, consumed_at, created_at)
       VALUES ($1, $2, NULL, $3, $4, NULL, $5)`,
      [code.userId, code.purpose, code.codeHmac, code.expiresAt, code.now],
    );
  }

  async outstanding(
    userId: string,
    purpose: string,
    now: Date,
    db: EntityManager = this.dataSource.manager,
  ): Promise<OutstandingSummary> {
    const [row] = await queryRows<{ count: string; newest_created: Date | null; newest_expires: Date | null }>(
      db,
      `SELECT count(*) AS count, max(created_at) AS newest_created, max(expires_at) AS newest_expires
         FROM email_codes WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3`,
      [userId, purpose, now],
    );
    return {
      count: Number(row?.count ?? 0),
      newestCreatedAt: row?.newest_created ?? null,
      newestExpiresAt: row?.newest_expires ?? null,
    };
  }

  /**
   * Codes not used yet, including ones past their expiry (so a late code can be told from a wrong
   * one) that were issued since `issuedSince`.
   */
  async unused(db: EntityManager, userId: string, purpose: string, issuedSince: Date): Promise<UnusedCode[]> {
    const rows = await queryRows<{ id: string; code_hmac: string; expires_at: Date }>(
      db,
      `SELECT id, code_hmac, expires_at FROM email_codes
        WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL AND created_at >= $3`,
      [userId, purpose, issuedSince],
    );
    return rows.map((row) => ({ id: String(row.id), codeHmac: row.code_hmac, expiresAt: row.expires_at }));
  }

  /**
   * Uses up a code found unused a moment ago. Only the request whose UPDATE still finds it unused
   * (and unexpired) wins: parallel requests that all read it as unused cannot all use it.
   */
  async markConsumed(db: EntityManager, codeId: string, now: Date): Promise<boolean> {
    const used = await queryRows(
      db,
      `UPDATE email_codes SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING id`,
      [codeId, now],
    );
    return used.length === 1;
  }

  async invalidateAll(db: EntityManager, userId: string, purpose: string, now: Date): Promise<void> {
    await db.query(`UPDATE email_codes SET consumed_at = $3 WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL`, [
      userId,
      purpose,
      now,
    ]);
  }
}
