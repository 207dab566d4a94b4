import { Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryGeneratedColumn } from 'typeorm';
import { User } from './user.entity.js';

@Entity({ name: 'user_emails' })
// Expression index (lower(address)), which TypeORM cannot model: declared so schema diffs leave it alone.
@Index('user_emails_address_lower_key', { synchronize: false })
@Index('user_emails_verification_token_key', ['verificationTokenHash'], {
  unique: true,
  where: 'verification_token_hash IS NOT NULL',
})
export class UserEmail {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 32 })
  @ForeignKey(() => User, { name: 'user_emails_user_id_fkey', onDelete: 'CASCADE' })
  @Index('user_emails_user_id_idx')
  userId: string;

  /** Unique case-insensitively (index on lower(address) in the migration). */
  @Column({ type: 'varchar', length: 254 })
  address: string;

  @Column({ name: 'verified_at', type: 'timestamptz', nullable: true })
  verifiedAt: Date | null;

  @Column({ name: 'is_primary', type: 'boolean', default: false })
  isPrimary: boolean;

  /** SHA-256 of the token in the verification link; the link itself is never stored. */
  @Column({ name: 'verification_token_hash', type: 'char', length: 64, nullable: true })
  verificationTokenHash: string | null;

  @Column({ name: 'verification_expires_at', type: 'timestamptz', nullable: true })
  verificationExpiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
