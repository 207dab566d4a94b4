import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';

@Entity({ name: 'mail_outbox' })
@Index('mail_outbox_settled_idx', { synchronize: false }) // the retention job's, made by migration RetentionIndexes1764500000000
@Check('mail_outbox_status_check', `status IN ('pending', 'sending', 'sent', 'failed')`)
@Index('mail_outbox_due_idx', ['nextAttemptAt'], { where: `status IN ('pending', 'sending')` })
export class MailOutbox {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column({ type: 'text', array: true })
  to: string[];

  @Column({ type: 'varchar', length: 64 })
  template: string;

  @Column({ type: 'varchar', length: 16 })
  locale: string;

  /** Template data, AES-256-GCM encrypted (it holds codes and links); erased once delivered or given up. */
  @Column({ name: 'data_encrypted', type: 'text', nullable: true })
  dataEncrypted: string | null;

  @Column({ type: 'varchar', length: 16 })
  status: OutboxStatus;

  @Column({ type: 'int', default: 0 })
  attempts: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz' })
  nextAttemptAt: Date;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil: Date | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt: Date | null;
}
