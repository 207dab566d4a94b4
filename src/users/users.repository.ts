import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { queryRows } from '../database/query-rows.js';
import { accountSnapshotFrom, type StoredAccountSnapshot, type UserAccount } from './account-snapshot.js';
import { UserEmail } from './user-email.entity.js';
import { User } from './user.entity.js';

/** A user's columns (alias `u`), also for statements that read a user with another row (see userFrom). */
export const USER_COLUMNS =
  'u.id, u.username, u.name, u.password_hash, u.locale, u.roles, u.preferred_two_factor_method, u.created_at, u.updated_at';

const BY_USERNAME = 'WHERE lower(u.username) = lower($1)';
const BY_EMAIL = 'JOIN user_emails e ON e.user_id = u.id WHERE lower(e.address) = lower($1)';

export interface UserRow {
  id: string;
  username: string;
  name: string;
  password_hash: string | null;
  locale: string | null;
  roles: string[];
  preferred_two_factor_method: User['preferredTwoFactorMethod'];
  created_at: Date;
  updated_at: Date;
}

/** The `users` and `user_emails` tables: a user and their addresses are one aggregate. */
@Injectable()
export class UsersRepository {
  constructor(private readonly dataSource: DataSource) {}

  findById(id: string, db: EntityManager = this.dataSource.manager): Promise<User | null> {
    return this.oneUser(db, `SELECT ${USER_COLUMNS} FROM users u WHERE u.id = $1`, [id]);
  }

  findByUsername(username: string, db: EntityManager = this.dataSource.manager): Promise<User | null> {
    return this.oneUser(db, `SELECT ${USER_COLUMNS} FROM users u ${BY_USERNAME}`, [username]);
  }

  findByEmail(address: string, db: EntityManager = this.dataSource.manager): Promise<User | null> {
    return this.oneUser(db, `SELECT ${USER_COLUMNS} FROM users u ${BY_EMAIL}`, [address]);
  }

  /** The user and their addresses and methods, in one statement (a login needs all three). */
  findAccountByUsername(username: string): Promise<UserAccount | null> {
    return this.oneAccount(`SELECT ${USER_COLUMNS}, u.account_snapshot FROM users u ${BY_USERNAME}`, [username]);
  }

  findAccountByEmail(address: string): Promise<UserAccount | null> {
    return this.oneAccount(`SELECT ${USER_COLUMNS}, u.account_snapshot FROM users u ${BY_EMAIL}`, [address]);
  }

  /** Primary first. */
  emailsOf(userId: string, db: EntityManager = this.dataSource.manager): Promise<UserEmail[]> {
    return db.getRepository(UserEmail).find({ where: { userId }, order: { isPrimary: 'DESC', id: 'ASC' } });
  }

  /** Primary first. */
  async verifiedAddresses(userId: string, db: EntityManager = this.dataSource.manager): Promise<string[]> {
    const rows = await queryRows<{ address: string }>(
      db,
      'SELECT address FROM user_emails WHERE user_id = $1 AND verified_at IS NOT NULL ORDER BY is_primary DESC, id',
      [userId],
    );
    return rows.map((row) => row.address);
  }

  usernameTaken(db: EntityManager, username: string): Promise<boolean> {
    return db
      .getRepository(User)
      .createQueryBuilder('user')
      .where('lower(user.username) = lower(:username)', { username })
      .getExists();
  }

  /** Whether the address (any case) belongs to a user other than `exceptUserId`. */
  emailTaken(db: EntityManager, address: string, exceptUserId?: string): Promise<boolean> {
    const query = db
      .getRepository(UserEmail)
      .createQueryBuilder('email')
      .where('lower(email.address) = lower(:address)', { address });
    if (exceptUserId) query.andWhere('email.userId <> :exceptUserId', { exceptUserId });
    return query.getExists();
  }

  /** An unverified address, for a new verification link. */
  findUnverifiedEmail(db: EntityManager, address: string): Promise<UserEmail | null> {
    return db
      .getRepository(UserEmail)
      .createQueryBuilder('email')
      .where('lower(email.address) = lower(:address) AND email.verifiedAt IS NULL', { address })
      .getOne();
  }

  async insertUser(db: EntityManager, user: User): Promise<void> {
    await db.insert(User, user);
  }

  async insertEmail(db: EntityManager, email: UserEmail): Promise<void> {
    await db.insert(UserEmail, email);
  }

  async saveUser(db: EntityManager, user: User): Promise<void> {
    await db.save(User, user);
  }

  async deleteEmails(db: EntityManager, ids: string[]): Promise<void> {
    if (ids.length) await db.delete(UserEmail, { id: In(ids) });
  }

  async setVerification(db: EntityManager, emailId: string, tokenHash: string, expiresAt: Date): Promise<void> {
    await db.update(UserEmail, { id: emailId }, { verificationTokenHash: tokenHash, verificationExpiresAt: expiresAt });
  }

  /**
   * Marks the address whose link carries `tokenHash` verified, if the link is still valid; when it
   * was a pending new address, it replaces the user's others. The addresses before, or null.
   */
  async verifyByToken(
    db: EntityManager,
    tokenHash: string,
    now: Date,
  ): Promise<{ userId: string; address: string; replaced: string[] } | null> {
    const [verified] = await queryRows<{ id: string; user_id: string; address: string; is_primary: boolean }>(
      db,
      `UPDATE user_emails SET verified_at = $2, verification_token_hash = NULL, verification_expires_at = NULL
        WHERE verification_token_hash = $1 AND verification_expires_at > $2 AND verified_at IS NULL
        RETURNING id, user_id, address, is_primary`,
      [tokenHash, now],
    );
    if (!verified) return null;
    let replaced: string[] = [];
    if (!verified.is_primary) {
      const removed = await queryRows<{ address: string }>(
        db,
        'DELETE FROM user_emails WHERE user_id = $1 AND id <> $2 RETURNING address',
        [verified.user_id, verified.id],
      );
      replaced = removed.map((row) => row.address);
      await db.query('UPDATE user_emails SET is_primary = true WHERE id = $1', [verified.id]);
    }
    return { userId: verified.user_id, address: verified.address, replaced };
  }

  async deleteUser(userId: string): Promise<void> {
    await this.dataSource.getRepository(User).delete({ id: userId });
  }

  /** Serialises changes to one user (NO KEY UPDATE: inserts that reference the user are not blocked). */
  async lockForUpdate(db: EntityManager, userId: string): Promise<boolean> {
    const rows = await queryRows(db, 'SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE', [userId]);
    return rows.length > 0;
  }

  async setPreferredTwoFactorMethod(userId: string, method: 'email' | 'totp' | null): Promise<void> {
    await this.dataSource.getRepository(User).update({ id: userId }, { preferredTwoFactorMethod: method });
  }

  private async oneUser(db: EntityManager, sql: string, params: unknown[]): Promise<User | null> {
    const [row] = await queryRows<UserRow>(db, sql, params);
    return row ? userFrom(row) : null;
  }

  private async oneAccount(sql: string, params: unknown[]): Promise<UserAccount | null> {
    const [row] = await queryRows<UserRow & { account_snapshot: StoredAccountSnapshot }>(this.dataSource, sql, params);
    return row ? { user: userFrom(row), snapshot: accountSnapshotFrom(row.id, row.account_snapshot) } : null;
  }
}

/** A user row as the entity (built by hand: these lookups run on every login, TypeORM's builder and hydration are not free). */
export function userFrom(row: UserRow): User {
  return Object.assign(new User(), {
    id: row.id,
    username: row.username,
    name: row.name,
    passwordHash: row.password_hash,
    locale: row.locale,
    roles: row.roles,
    preferredTwoFactorMethod: row.preferred_two_factor_method,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  } satisfies User);
}
