import { Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn } from 'typeorm';
import { User } from '../users/user.entity.js';

/** One single-use backup code of a TOTP user; only its HMAC is stored. */
@Entity({ name: 'backup_codes' })
export class BackupCode {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 32 })
  @ForeignKey(() => User, { name: 'backup_codes_user_id_fkey', onDelete: 'CASCADE' })
  @Index('backup_codes_user_id_idx')
  userId: string;

  /** HMAC-SHA256 bound to the user; never the code itself. */
  @Column({ name: 'code_hmac', type: 'char', length: 64 })
  codeHmac: string;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
