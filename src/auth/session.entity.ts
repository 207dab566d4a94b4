import { Check, Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { User } from '../users/user.entity.js';

/** Surface 1's login tokens, its personal access tokens, and surface 2's JWT sessions. */
export type SessionKind = 'login' | 'personal' | 'token';

@Entity({ name: 'sessions' })
@Check('sessions_kind_check', `kind IN ('login', 'personal', 'token')`)
@Index('sessions_personal_name_key', ['userId', 'name'], {
  unique: true,
  where: `kind = 'personal' AND revoked_at IS NULL`,
})
export class Session {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 32 })
  @ForeignKey(() => User, { name: 'sessions_user_id_fkey', onDelete: 'CASCADE' })
  @Index('sessions_user_id_idx')
  userId: string;

  /** SHA-256 of the bearer token: a database leak does not leak sessions. */
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  @Index('sessions_token_hash_key', { unique: true })
  tokenHash: string;

  @Column({ type: 'varchar', length: 16 })
  kind: SessionKind;

  /** Personal access tokens only. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  name: string | null;

  /** Personal access tokens only: the token's last characters, to tell tokens apart in lists. */
  @Column({ name: 'last_token_part', type: 'varchar', length: 8, nullable: true })
  lastTokenPart: string | null;

  @Column({ name: 'bypass_two_factor', type: 'boolean', default: false })
  bypassTwoFactor: boolean;

  @Column({ name: 'two_factor_until', type: 'timestamptz', nullable: true })
  twoFactorUntil: Date | null;

  /** SHA-256 of user agent and client address the remembered second factor is bound to. */
  @Column({ name: 'two_factor_fingerprint', type: 'char', length: 64, nullable: true })
  twoFactorFingerprint: string | null;

  /** Surface 2: access tokens of an older generation are refused (all revoked at once by a bump). */
  @Column({ name: 'access_generation', type: 'integer', default: 0 })
  accessGeneration: number;

  @Column({ type: 'varchar', length: 64, default: '' })
  ip: string;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, default: '' })
  userAgent: string;

  /** What the client said it is (surface 2's `session: {browser, os}`). */
  @Column({ type: 'varchar', length: 128, nullable: true })
  browser: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  os: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
