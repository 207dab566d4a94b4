import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type TwoFactorMethodName = 'email' | 'totp';
export type TwoFactorMethodStatus = 'pending' | 'enabled';

@Entity({ name: 'two_factor_methods' })
export class TwoFactorMethod {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 32 })
  userId: string;

  @Column({ type: 'varchar', length: 16 })
  method: TwoFactorMethodName;

  @Column({ type: 'varchar', length: 16 })
  status: TwoFactorMethodStatus;

  @Column({ name: 'secret_encrypted', type: 'text', nullable: true })
  secretEncrypted: string | null;

  @Column({ name: 'last_totp_step', type: 'bigint', nullable: true })
  lastTotpStep: string | null;

  @Column({ name: 'changed_at', type: 'timestamptz' })
  changedAt: Date;
}
