import type { EntityManager } from 'typeorm';
import type { User } from '../../users/user.entity.js';
import type { SecondFactorMethod } from '../two-factor.types.js';

/** How a code compares: right (and now used up), not right, or right but past its lifetime. */
export type StrategyVerdict = 'verified' | 'invalid' | 'expired';

/**
 * One way of giving a second factor. `verify` checks a code and, when it is right, uses it up
 * within `db` (the caller's transaction, when it has one). It counts nothing: attempts and
 * lockout are the caller's (TwoFactorService).
 */
export interface SecondFactorStrategy {
  readonly method: SecondFactorMethod;
  verify(user: User, code: string, db: EntityManager): Promise<StrategyVerdict>;
}

/** The injection token for the list of every strategy. */
export const SECOND_FACTOR_STRATEGIES = Symbol('SECOND_FACTOR_STRATEGIES');
