import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';
import { inTransaction } from '../database/transaction.js';
import type { CodePurpose } from './email-codes.service.js';

export interface FailureOutcome {
  /** EMAIL_CODE_MAX_ATTEMPTS wrong codes for this purpose: the counter restarts and codes must die. */
  maxAttemptsReached: boolean;
  /** Set when this failure locked the account. */
  lockedUntil: Date | null;
}

/** An attempt counted before its code is checked (see reserve). */
export type Reservation =
  | { refused: 'locked'; lockedUntil: Date }
  | { refused: 'exhausted' }
  | { refused: null; attempt: number; lockedUntil: Date | null };

/** Far enough to mean "until someone unlocks it": NIST's cap of 100 consecutive failures. */
const PERMANENT_LOCK = new Date('9999-12-31T00:00:00Z');

/**
 * Counts second-factor attempts two ways: per user and purpose (EMAIL_CODE_MAX_ATTEMPTS, then the
 * outstanding codes die) and per user across everything (the account lockout, growing delay).
 * An attempt is counted before its code is checked, with one atomic statement per counter, so a
 * burst of parallel guesses gets no more checks than a sequence would: success then clears both.
 */
@Injectable()
export class SecondFactorFailuresService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** When the user's second factor is locked, until when; null when it is not. */
  async lockedUntil(userId: string): Promise<Date | null> {
    const [row] = await queryRows<{ locked_until: Date | null }>(
      this.dataSource,
      'SELECT locked_until FROM second_factor_failures WHERE user_id = $1',
      [userId],
    );
    const lockedUntil = row?.locked_until ?? null;
    return lockedUntil && lockedUntil > this.clock.now() ? lockedUntil : null;
  }

  /**
   * Counts one attempt as failed in advance: refused while the account is locked (and then not
   * counted) or once EMAIL_CODE_MAX_ATTEMPTS attempts of this purpose are already under way. The
   * attempt that reaches LOCKOUT_THRESHOLD locks the account at once; a success clears it.
   */
  async reserve(userId: string, purpose: CodePurpose, db: EntityManager = this.dataSource.manager): Promise<Reservation> {
    const now = this.clock.now();
    // The user's row is locked while it is read and written: the count and the lock it may set
    // change together, so no parallel attempt slips in between.
    const lockout = await inTransaction(db, async (manager) => {
      await manager.query(
        `INSERT INTO second_factor_failures (user_id, consecutive_failures) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING`,
        [userId],
      );
      const [row] = await queryRows<{ consecutive_failures: number; locked_until: Date | null }>(
        manager,
        'SELECT consecutive_failures, locked_until FROM second_factor_failures WHERE user_id = $1 FOR UPDATE',
        [userId],
      );
      if (row?.locked_until && row.locked_until > now) return { locked: row.locked_until };
      const count = (row?.consecutive_failures ?? 0) + 1;
      const lockedUntil = this.lockUntil(count);
      await manager.query('UPDATE second_factor_failures SET consecutive_failures = $2, locked_until = $3 WHERE user_id = $1', [
        userId,
        count,
        lockedUntil ?? row?.locked_until ?? null,
      ]);
      return { locked: null, lockedUntil };
    });
    if (lockout.locked) return { refused: 'locked', lockedUntil: lockout.locked };
    const { lockedUntil } = lockout;
    const [attempts] = await queryRows<{ failures: number }>(
      db,
      `INSERT INTO code_attempts (user_id, purpose, failures) VALUES ($1, $2, 1)
       ON CONFLICT (user_id, purpose) DO UPDATE SET failures = code_attempts.failures + 1
       RETURNING failures`,
      [userId, purpose],
    );
    const attempt = attempts?.failures ?? 1;
    if (attempt > this.config.EMAIL_CODE_MAX_ATTEMPTS) return { refused: 'exhausted' };
    return { refused: null, attempt, lockedUntil };
  }

  /** The reserved attempt failed: the last allowed one restarts the purpose's count (its codes must die). */
  async settleFailure(
    userId: string,
    purpose: CodePurpose,
    reservation: { attempt: number; lockedUntil: Date | null },
    db: EntityManager = this.dataSource.manager,
  ): Promise<FailureOutcome> {
    const maxAttemptsReached = reservation.attempt >= this.config.EMAIL_CODE_MAX_ATTEMPTS;
    if (maxAttemptsReached) {
      await db.query('DELETE FROM code_attempts WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
    }
    return { maxAttemptsReached, lockedUntil: reservation.lockedUntil };
  }

  /** Lifts a lock (an operator's decision) and forgets every count; false when there was nothing to clear. */
  async clear(userId: string): Promise<boolean> {
    await this.dataSource.query('DELETE FROM code_attempts WHERE user_id = $1', [userId]);
    const cleared = await queryRows(this.dataSource, 'DELETE FROM second_factor_failures WHERE user_id = $1 RETURNING user_id', [
      userId,
    ]);
    return cleared.length > 0;
  }

  /** The reserved attempt succeeded: both counts start again (and any lock it set is lifted). */
  async settleSuccess(userId: string, purpose: CodePurpose, db: EntityManager = this.dataSource.manager): Promise<void> {
    await db.query('DELETE FROM code_attempts WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
    await db.query('DELETE FROM second_factor_failures WHERE user_id = $1', [userId]);
  }

  /** From LOCKOUT_THRESHOLD failures on: base delay doubling per failure, capped; permanent at the maximum. */
  lockUntil(consecutiveFailures: number): Date | null {
    const { LOCKOUT_THRESHOLD, LOCKOUT_BASE_SECONDS, LOCKOUT_MAX_SECONDS, LOCKOUT_MAX_FAILURES } = this.config;
    if (consecutiveFailures >= LOCKOUT_MAX_FAILURES) return PERMANENT_LOCK;
    if (consecutiveFailures < LOCKOUT_THRESHOLD) return null;
    const exponent = Math.min(consecutiveFailures - LOCKOUT_THRESHOLD, 30);
    return addSeconds(this.clock.now(), Math.min(LOCKOUT_MAX_SECONDS, LOCKOUT_BASE_SECONDS * 2 ** exponent));
  }
}
