import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';
import type { CodePurpose } from './email-codes.service.js';

export interface FailureOutcome {
  /** EMAIL_CODE_MAX_ATTEMPTS wrong codes for this purpose: the counter restarts and codes must die. */
  maxAttemptsReached: boolean;
  lockedUntil: Date | null;
}

/** Far enough to mean "until someone unlocks it": NIST's cap of 100 consecutive failures. */
const PERMANENT_LOCK = new Date('9999-12-31T00:00:00Z');

/**
 * Counts wrong second factors two ways: per user and purpose (EMAIL_CODE_MAX_ATTEMPTS, then the
 * outstanding codes die) and per user across everything (the account lockout, growing delay).
 * Both counters are updated with single atomic statements, so parallel requests count correctly.
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

  async recordFailure(userId: string, purpose: CodePurpose): Promise<FailureOutcome> {
    const [attempts] = await queryRows<{ failures: number }>(
      this.dataSource,
      `INSERT INTO code_attempts (user_id, purpose, failures) VALUES ($1, $2, 1)
       ON CONFLICT (user_id, purpose) DO UPDATE SET failures = code_attempts.failures + 1
       RETURNING failures`,
      [userId, purpose],
    );
    const maxAttemptsReached = (attempts?.failures ?? 0) >= this.config.EMAIL_CODE_MAX_ATTEMPTS;
    if (maxAttemptsReached) {
      await this.dataSource.query('DELETE FROM code_attempts WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
    }

    const [lockout] = await queryRows<{ consecutive_failures: number }>(
      this.dataSource,
      `INSERT INTO second_factor_failures (user_id, consecutive_failures) VALUES ($1, 1)
       ON CONFLICT (user_id) DO UPDATE SET consecutive_failures = second_factor_failures.consecutive_failures + 1
       RETURNING consecutive_failures`,
      [userId],
    );
    const lockedUntil = this.lockUntil(lockout?.consecutive_failures ?? 0);
    if (lockedUntil) {
      await this.dataSource.query('UPDATE second_factor_failures SET locked_until = $2 WHERE user_id = $1', [
        userId,
        lockedUntil,
      ]);
    }
    return { maxAttemptsReached, lockedUntil };
  }

  async recordSuccess(userId: string, purpose: CodePurpose): Promise<void> {
    await this.dataSource.query('DELETE FROM code_attempts WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
    await this.dataSource.query('DELETE FROM second_factor_failures WHERE user_id = $1', [userId]);
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
