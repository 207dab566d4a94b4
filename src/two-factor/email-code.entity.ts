import { Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn } from 'typeorm';
import { User } from '../users/user.entity.js';

@Entity({ name: 'email_codes' })
@Index('email_codes_dead_since_idx', { synchronize: false }) // the retention job's, made by migration RetentionIndexes1764500000000
@Index('email_codes_outstanding_idx', ['userId', 'purpose', 'expiresAt'], { where: 'consumed_at IS NULL' })
export class EmailCode {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 32 })
  @ForeignKey(() => User, { name: 'email_codes_user_id_fkey', onDelete: 'CASCADE' })
  userId: string;

  @Column({ type: 'varchar', length: 32 })
  purpose: string;

  @Column({ name: 'challenge_id', type: 'varchar', length: 64, nullable: true })
  challengeId: string | null;

  /** HMAC-SHA256 bound to user and purpose; never the code itself. */
  @Column({ name: 'code_hmac', type: 'char', length: 64 })
  codeHmac: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'consumed_at', type: 'timestamptz', nullable: true })
  consumedAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
