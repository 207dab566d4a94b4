import { Check, Column, Entity, ForeignKey, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { User } from '../users/user.entity.js';

export type TwoFactorMethodName = 'email' | 'totp';
export type TwoFactorMethodStatus = 'pending' | 'enabled';

@Entity({ name: 'two_factor_methods' })
@Check('two_factor_methods_method_check', `method IN ('email', 'totp')`)
@Check('two_factor_methods_status_check', `status IN ('pending', 'enabled')`)
@Unique('two_factor_methods_user_method_key', ['userId', 'method'])
export class TwoFactorMethod {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 32 })
  @ForeignKey(() => User, { name: 'two_factor_methods_user_id_fkey', onDelete: 'CASCADE' })
  userId: string;

  @Column({ type: 'varchar', length: 16 })
  method: TwoFactorMethodName;

  @Column({ type: 'varchar', length: 16 })
  status: TwoFactorMethodStatus;

  @Column({ name: 'secret_encrypted', type: 'text', nullable: true })
  secretEncrypted: string | null;

  @Column({ name: 'last_totp_step', type: 'bigint', nullable: true })
  lastTotpStep: string | null;

  @Column({ name: 'changed_at', type: 'timestamptz', default: () => 'now()' })
  changedAt: Date;
}
