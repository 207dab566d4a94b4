import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../../database/query-rows.js';

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

  /**
   * One failure counted in advance, in one statement: the user's consecutive failures and this
   * purpose's attempts go up by one, unless the user is locked (then nothing is counted: null).
   * The failure that reaches `lockThreshold` locks the row in the same statement, until
   * `provisionalLock`: a parallel attempt cannot slip in before the caller writes the lock's real
   * end (setLock). Concurrent statements queue on the row (ON CONFLICT DO UPDATE), so each sees
   * the count the one before it left.
   */
  async countFailure(
    db: EntityManager,
    userId: string,
    purpose: string,
    options: { now: Date; lockThreshold: number; provisionalLock: Date },
  ): Promise<{ consecutiveFailures: number; attempt: number } | null> {
    const [row] = await queryRows<{ consecutive_failures: number; failures: number }>(
      db,
      `WITH failure AS (
         INSERT INTO second_factor_failures AS f (user_id, consecutive_failures, locked_until)
         VALUES ($1, 1, CASE WHEN 1 >= $4 THEN $5::timestamptz END)
         ON CONFLICT (user_id) DO UPDATE
           SET consecutive_failures = f.consecutive_failures + 1,
               locked_until = CASE WHEN f.consecutive_failures + 1 >= $4 THEN $5::timestamptz ELSE f.locked_until END
           WHERE f.locked_until IS NULL OR f.locked_until <= $3
         RETURNING consecutive_failures
       ), attempt AS (
         INSERT INTO code_attempts (user_id, purpose, failures)
         SELECT $1, $2, 1 WHERE EXISTS (SELECT 1 FROM failure)
         ON CONFLICT (user_id, purpose) DO UPDATE SET failures = code_attempts.failures + 1
         RETURNING failures
       )
       SELECT failure.consecutive_failures, attempt.failures FROM failure, attempt`,
      [userId, purpose, options.now, options.lockThreshold, options.provisionalLock],
    );
    return row ? { consecutiveFailures: row.consecutive_failures, attempt: row.failures } : null;
  }

  /** The lock's end, set by the failure that counted `consecutiveFailures` (unless a success has cleared the row since). */
  async setLock(db: EntityManager, userId: string, consecutiveFailures: number, lockedUntil: Date): Promise<void> {
    await db.query('UPDATE second_factor_failures SET locked_until = $3 WHERE user_id = $1 AND consecutive_failures = $2', [
      userId,
      consecutiveFailures,
      lockedUntil,
    ]);
  }

  /** A success: this purpose's attempts and the user's failures (and any lock) are forgotten, in one statement. */
  async clearAfterSuccess(db: EntityManager, userId: string, purpose: string): Promise<void> {
    await db.query(
      `WITH attempts AS (DELETE FROM code_attempts WHERE user_id = $1 AND purpose = $2)
       DELETE FROM second_factor_failures WHERE user_id = $1`,
      [userId, purpose],
    );
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
