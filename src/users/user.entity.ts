import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ name: 'users' })
@Check('users_preferred_two_factor_method_check', `preferred_two_factor_method IN ('email', 'totp')`)
// Expression index (lower(username)), which TypeORM cannot model: declared so schema diffs leave it alone.
@Index('users_username_lower_key', { synchronize: false })
export class User {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id: string;

  @Column({ type: 'varchar', length: 64 })
  username: string;

  @Column({ type: 'varchar', length: 128, default: '' })
  name: string;

  /** argon2id of the hex SHA-256 of the password (the digest Rocket.Chat clients send); null: no password provider. */
  @Column({ name: 'password_hash', type: 'text', nullable: true })
  passwordHash: string | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  locale: string | null;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  roles: string[];

  /** The method asked for first on surface 2, when the user picked one they have. */
  @Column({ name: 'preferred_two_factor_method', type: 'varchar', length: 16, nullable: true })
  preferredTwoFactorMethod: 'email' | 'totp' | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /**
   * The addresses and enabled methods as one json value, for the hot path's single read. Kept by
   * triggers (migrations/1764600000000-account-snapshot.ts), never written by this code, never
   * loaded with the entity: user_emails and two_factor_methods are the truth.
   */
  @Column({ name: 'account_snapshot', type: 'json', select: false, insert: false, update: false })
  accountSnapshot?: { emails: object[]; enabled_methods: string[] };
}
