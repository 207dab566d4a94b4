import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { Session } from '../auth/session.entity.js';
import type { SecondFactorMethod } from '../two-factor/two-factor.types.js';
import { User } from '../users/user.entity.js';

export type ChallengePurpose = 'login' | 'step_up';

/**
 * A pending second factor: created when a login (or a step-up) needs one, finished once with a
 * right code. Its id (32 random bytes, hex) is what the client holds.
 */
@Entity({ name: 'challenges' })
@Index('challenges_dead_since_idx', { synchronize: false }) // the retention job's, made by migration RetentionIndexes1764500000000
@Check('challenges_purpose_check', `purpose IN ('login', 'step_up')`)
export class Challenge {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 32 })
  @ForeignKey(() => User, { name: 'challenges_user_id_fkey', onDelete: 'CASCADE' })
  @Index('challenges_user_id_idx')
  userId: string;

  @Column({ type: 'varchar', length: 16 })
  purpose: ChallengePurpose;

  @Column({ type: 'varchar', length: 16 })
  method: SecondFactorMethod;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  /** Wrong codes given for this challenge; a resend does not reset it. */
  @Column({ name: 'failed_attempts', type: 'integer', default: 0 })
  failedAttempts: number;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ type: 'varchar', length: 64, default: '' })
  ip: string;

  /** A step-up challenge: the session it raises. */
  @Column({ name: 'session_id', type: 'varchar', length: 32, nullable: true })
  @ForeignKey(() => Session, { name: 'challenges_session_id_fkey', onDelete: 'CASCADE' })
  sessionId: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, default: '' })
  userAgent: string;
}
