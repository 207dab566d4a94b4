import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../../database/query-rows.js';

export interface FailureRow {
  consecutiveFailures: number;
  lockedUntil: Date | null;
}

/**
 * Two counters: `second_factor_failures` (consecutive failures of a user, any method, and the
 * lock they set) and `code_attempts` (wrong codes per user and purpose).
 */
@Injectable()
export class SecondFactorAttemptsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async lockedUntil(userId: string, db: EntityManager = this.dataSource.manager): Promise<Date | null> {
    const [row] = await queryRows<{ locked_until: Date | null }>(
      db,
      'SELECT locked_until FROM second_factor_failures WHERE user_id = $1',
      [userId],
    );
    return row?.locked_until ?? null;
  }

  /** The user's failure row, created if missing and locked (FOR UPDATE) for the caller's transaction. */
  async lockFailures(db: EntityManager, userId: string): Promise<FailureRow> {
    await db.query(
      `INSERT INTO second_factor_failures (user_id, consecutive_failures) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING`,
      [userId],
    );
    const [row] = await queryRows<{ consecutive_failures: number; locked_until: Date | null }>(
      db,
      'SELECT consecutive_failures, locked_until FROM second_factor_failures WHERE user_id = $1 FOR UPDATE',
      [userId],
    );
    return { consecutiveFailures: row?.consecutive_failures ?? 0, lockedUntil: row?.locked_until ?? null };
  }

  async saveFailures(db: EntityManager, userId: string, failures: FailureRow): Promise<void> {
    await db.query('UPDATE second_factor_failures SET consecutive_failures = $2, locked_until = $3 WHERE user_id = $1', [
      userId,
      failures.consecutiveFailures,
      failures.lockedUntil,
    ]);
  }

  /** One more attempt for this purpose; the count after it. */
  async countAttempt(db: EntityManager, userId: string, purpose: string): Promise<number> {
    const [row] = await queryRows<{ failures: number }>(
      db,
      `INSERT INTO code_attempts (user_id, purpose, failures) VALUES ($1, $2, 1)
       ON CONFLICT (user_id, purpose) DO UPDATE SET failures = code_attempts.failures + 1
       RETURNING failures`,
      [userId, purpose],
    );
    return row?.failures ?? 1;
  }

  async resetAttempts(db: EntityManager, userId: string, purpose?: string): Promise<void> {
    if (purpose === undefined) await db.query('DELETE FROM code_attempts WHERE user_id = $1', [userId]);
    else await db.query('DELETE FROM code_attempts WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
  }

  /** Forgets the user's failures and lock; false when there were none. */
  async clearFailures(db: EntityManager, userId: string): Promise<boolean> {
    const cleared = await queryRows(db, 'DELETE FROM second_factor_failures WHERE user_id = $1 RETURNING user_id', [userId]);
    return cleared.length > 0;
  }
}
