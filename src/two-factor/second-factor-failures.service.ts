import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { SecondFactorAttemptsRepository } from './repositories/second-factor-attempts.repository.js';

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
    private readonly attempts: SecondFactorAttemptsRepository,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** When the user's second factor is locked, until when; null when it is not. */
  async lockedUntil(userId: string): Promise<Date | null> {
    const lockedUntil = await this.attempts.lockedUntil(userId);
    return lockedUntil && lockedUntil > this.clock.now() ? lockedUntil : null;
  }

  /**
   * Counts one attempt as failed in advance: refused while the account is locked (and then not
   * counted) or once EMAIL_CODE_MAX_ATTEMPTS attempts of this purpose are already under way. The
   * attempt that reaches LOCKOUT_THRESHOLD locks the account at once; a success clears it.
   */
  async reserve(userId: string, purpose: string, db: EntityManager = this.dataSource.manager): Promise<Reservation> {
    const now = this.clock.now();
    const counted = await this.attempts.countFailure(db, userId, purpose, {
      now,
      lockThreshold: this.config.LOCKOUT_THRESHOLD,
      provisionalLock: PERMANENT_LOCK,
    });
    if (!counted) {
      // Locked: read again (after the statement) for the lock's end. Should a success have cleared
      // it since, this attempt is still refused, with a lock that ends now.
      return { refused: 'locked', lockedUntil: (await this.attempts.lockedUntil(userId, db)) ?? now };
    }
    // The failure that reached the threshold holds a lock for good; its real end follows the policy.
    const lockedUntil = this.lockUntil(counted.consecutiveFailures);
    if (lockedUntil) await this.attempts.setLock(db, userId, counted.consecutiveFailures, lockedUntil);
    if (counted.attempt > this.config.EMAIL_CODE_MAX_ATTEMPTS) return { refused: 'exhausted' };
    return { refused: null, attempt: counted.attempt, lockedUntil };
  }

  /** The reserved attempt failed: the last allowed one restarts the purpose's count (its codes must die). */
  async settleFailure(
    userId: string,
    purpose: string,
    reservation: { attempt: number; lockedUntil: Date | null },
    db: EntityManager = this.dataSource.manager,
  ): Promise<FailureOutcome> {
    const maxAttemptsReached = reservation.attempt >= this.config.EMAIL_CODE_MAX_ATTEMPTS;
    if (maxAttemptsReached) await this.attempts.resetAttempts(db, userId, purpose);
    return { maxAttemptsReached, lockedUntil: reservation.lockedUntil };
  }

  /** The reserved attempt succeeded: both counts start again (and any lock it set is lifted). */
  async settleSuccess(userId: string, purpose: string, db: EntityManager = this.dataSource.manager): Promise<void> {
    await this.attempts.clearAfterSuccess(db, userId, purpose);
  }

  /** Lifts a lock (an operator's decision) and forgets every count; false when there was nothing to clear. */
  async clear(userId: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      await this.attempts.resetAttempts(manager, userId);
      return this.attempts.clearFailures(manager, userId);
    });
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
