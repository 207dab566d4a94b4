import { Check, Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn } from 'typeorm';
import { User } from '../users/user.entity.js';

export type AuditEventType =
  | 'method_enabled'
  | 'method_disabled'
  | 'backup_codes_regenerated'
  | 'code_sent'
  | 'second_factor_verified'
  | 'second_factor_failed'
  | 'lockout'
  | 'lockout_cleared'
  | 'challenge_created'
  | 'challenge_completed'
  | 'challenge_failed';

export type AuditOutcome = 'success' | 'failure';

/** One second-factor event of a user: what, with which method, how it ended, from where. */
@Entity({ name: 'audit_events' })
@Index('audit_events_at_idx', { synchronize: false }) // the retention job's, made by migration RetentionIndexes1764500000000
@Check('audit_events_outcome_check', "outcome IN ('success', 'failure')")
@Index('audit_events_user_at_idx', { synchronize: false })
export class AuditEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 32 })
  @ForeignKey(() => User, { name: 'audit_events_user_id_fkey', onDelete: 'CASCADE' })
  userId: string;

  @Column({ type: 'varchar', length: 48 })
  type: AuditEventType;

  @Column({ type: 'varchar', length: 16, nullable: true })
  method: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome: AuditOutcome;

  @Column({ type: 'varchar', length: 64, default: '' })
  ip: string;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, default: '' })
  userAgent: string;

  @Column({ type: 'timestamptz' })
  at: Date;
}
