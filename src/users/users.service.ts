import { Inject, Injectable, Logger } from '@nestjs/common';
import { isEmail } from 'class-validator';
import { DataSource, EntityManager, In, IsNull, Not } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { randomId, randomToken, sha256Hex } from '../common/random.js';
import { runDetached } from '../common/run-detached.js';
import { AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { MailService } from '../mail/mail.service.js';
import { UserEmail } from './user-email.entity.js';
import { User } from './user.entity.js';

/** Rocket.Chat's default username rule (UTF8_User_Names_Validation), bounded by the column. */
export const USERNAME_PATTERN = /^[0-9a-zA-Z-_.]{1,64}$/;

/**
 * Names nobody may take, compared case-insensitively: Rocket.Chat's system list
 * (Accounts_SystemBlockedUsernameList), its mention keywords and its bot.
 */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
  'admin',
  'administrator',
  'system',
  'user',
  'all',
  'here',
  'rocket.cat',
]);

/** Markup characters Rocket.Chat refuses in display names (validateNameChars). */
const NAME_MARKUP = /[<>\\/]/;

export const PASSWORD_MAX_LENGTH = 256;

export interface NewUser {
  username: string;
  email: string;
  /** Already hashed by the caller (auth's PasswordService); null for a user without a password. */
  passwordHash: string | null;
  name: string;
  verified?: boolean;
  roles?: string[];
  locale?: string | null;
}

export interface UserWithEmails {
  user: User;
  emails: UserEmail[];
}

/** Profile fields to write; each already checked with the assert* rules. */
export interface ProfileWrite {
  name?: string;
  username?: string;
  email?: string;
  passwordHash?: string;
}

/**
 * Users and their addresses: the bottom layer. It knows nothing of sessions or second factors;
 * flows that touch those too (registration, profile changes) live in AccountService above it.
 */
@Injectable()
export class UsersService {
  private readonly logger = new Logger('Users');

  constructor(
    private readonly dataSource: DataSource,
    private readonly mail: MailService,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  async findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<User | null> {
    return manager.getRepository(User).findOneBy({ id });
  }

  async findByUsername(username: string): Promise<User | null> {
    return this.dataSource
      .getRepository(User)
      .createQueryBuilder('user')
      .where('lower(user.username) = lower(:username)', { username })
      .getOne();
  }

  async findByEmail(address: string): Promise<User | null> {
    return this.dataSource
      .getRepository(User)
      .createQueryBuilder('user')
      .innerJoin(UserEmail, 'email', 'email.userId = user.id')
      .where('lower(email.address) = lower(:address)', { address })
      .getOne();
  }

  findByUsernameOrEmail(value: string): Promise<User | null> {
    return value.includes('@') ? this.findByEmail(value) : this.findByUsername(value);
  }

  emailsOf(userId: string): Promise<UserEmail[]> {
    return this.dataSource.getRepository(UserEmail).find({ where: { userId }, order: { isPrimary: 'DESC', id: 'ASC' } });
  }

  async verifiedAddresses(userId: string, manager: EntityManager = this.dataSource.manager): Promise<string[]> {
    const emails = await manager
      .getRepository(UserEmail)
      .find({ where: { userId, verifiedAt: Not(IsNull()) }, order: { isPrimary: 'DESC', id: 'ASC' } });
    return emails.map((email) => email.address);
  }

  /**
   * Inserts the user and their primary address in the caller's transaction; an unverified address
   * gets a verification link queued. Returns the outbox ids to deliver once the transaction commits.
   */
  async create(manager: EntityManager, input: NewUser): Promise<UserWithEmails & { outboxIds: string[] }> {
    try {
      await this.assertUsernameFree(manager, input.username);
      await this.assertEmailFree(manager, input.email);
      const user = manager.create(User, {
        id: randomId(),
        username: input.username,
        name: input.name,
        passwordHash: input.passwordHash,
        locale: input.locale ?? null,
        roles: input.roles ?? ['user'],
      });
      await manager.insert(User, user);
      const email = manager.create(UserEmail, {
        userId: user.id,
        address: input.email,
        isPrimary: true,
        verifiedAt: input.verified ? this.clock.now() : null,
        verificationTokenHash: null,
        verificationExpiresAt: null,
      });
      await manager.insert(UserEmail, email);
      const outboxIds = input.verified ? [] : [await this.queueVerification(manager, user, email)];
      const saved = await manager.findOneByOrFail(User, { id: user.id });
      return { user: saved, emails: [email], outboxIds };
    } catch (error) {
      throw this.unavailableOnRace(error);
    }
  }

  /**
   * Mails a new verification link if the address exists and is unverified. The answer is the same,
   * in the same time, either way: the lookup and the mail happen after it.
   */
  sendConfirmationEmail(address: string): void {
    runDetached(this.logger, 'Sending a confirmation email', async () => {
      const outboxIds = await this.dataSource.transaction(async (manager) => {
        const email = await manager
          .getRepository(UserEmail)
          .createQueryBuilder('email')
          .where('lower(email.address) = lower(:address) AND email.verifiedAt IS NULL', { address })
          .getOne();
        if (!email) return [];
        const user = await manager.findOneByOrFail(User, { id: email.userId });
        return [await this.queueVerification(manager, user, email)];
      });
      await this.mail.deliverNow(outboxIds);
    });
  }

  /** Verifies the address; a pending new address (an email change) then replaces the old ones. */
  async verifyEmail(token: string): Promise<void> {
    const now = this.clock.now();
    await this.dataSource.transaction(async (manager) => {
      const [verified] = await queryRows<{ id: string; user_id: string; is_primary: boolean }>(
        manager,
        `UPDATE user_emails SET verified_at = $2, verification_token_hash = NULL, verification_expires_at = NULL
          WHERE verification_token_hash = $1 AND verification_expires_at > $2 AND verified_at IS NULL
          RETURNING id, user_id, is_primary`,
        [sha256Hex(token), now],
      );
      if (!verified) throw new DomainError(ErrorCode.InvalidToken, 'The verification link is invalid or has expired');
      if (!verified.is_primary) {
        await manager.query('DELETE FROM user_emails WHERE user_id = $1 AND id <> $2', [verified.user_id, verified.id]);
        await manager.query('UPDATE user_emails SET is_primary = true WHERE id = $1', [verified.id]);
      }
    });
  }

  /**
   * Writes checked profile fields in the caller's transaction. An email change takes effect when
   * the new address is verified (see verifyEmail); until then the verified address keeps receiving
   * codes, so the second factor never lapses. Returns the outbox ids of verification links queued.
   */
  async writeProfile(manager: EntityManager, userId: string, changes: ProfileWrite): Promise<string[]> {
    try {
      const user = await manager.findOneByOrFail(User, { id: userId });
      if (changes.username !== undefined && changes.username.toLowerCase() !== user.username.toLowerCase()) {
        await this.assertUsernameFree(manager, changes.username);
      }
      const outboxIds = changes.email !== undefined ? await this.requestEmailChange(manager, user, changes.email) : [];
      if (changes.name !== undefined) user.name = changes.name;
      if (changes.username !== undefined) user.username = changes.username;
      if (changes.passwordHash !== undefined) user.passwordHash = changes.passwordHash;
      await manager.save(User, user);
      return outboxIds;
    } catch (error) {
      throw this.unavailableOnRace(error);
    }
  }

  async deleteUser(userId: string): Promise<void> {
    await this.dataSource.getRepository(User).delete({ id: userId });
  }

  /** Rocket.Chat's username rule; reserved names are refused unless `allowReserved` (the operator's bootstrap admin). */
  assertUsername(username: string, options: { allowReserved?: boolean } = {}): void {
    if (!USERNAME_PATTERN.test(username)) {
      throw new DomainError(ErrorCode.InvalidUsername, 'The username provided is not valid');
    }
    if (!options.allowReserved && RESERVED_USERNAMES.has(username.toLowerCase())) {
      throw new DomainError(ErrorCode.UsernameBlocked, `${username} is blocked and can't be used!`);
    }
  }

  /** The display name as stored: trimmed; empty or with markup characters, refused. */
  normalizeName(name: string): string {
    const trimmed = name.trim();
    if (!trimmed) throw new DomainError(ErrorCode.InvalidName, 'The name must not be empty');
    if (NAME_MARKUP.test(trimmed)) throw new DomainError(ErrorCode.InvalidName, 'Name contains invalid characters');
    return trimmed;
  }

  assertEmail(address: string): void {
    if (address.length > 254 || !isEmail(address)) throw new DomainError(ErrorCode.InvalidEmail, `Invalid email ${address}`);
  }

  /** The rules broken are listed in `details`, as Rocket.Chat's password policy lists them. */
  assertPasswordPolicy(password: string): void {
    const broken: Record<string, unknown>[] = [];
    if (password.length < this.config.PASSWORD_MIN_LENGTH) {
      broken.push({
        error: 'error-password-policy-not-met-minLength',
        message: 'The password does not meet the minimum length password policy.',
        limit: this.config.PASSWORD_MIN_LENGTH,
      });
    }
    if (password.length > PASSWORD_MAX_LENGTH) {
      broken.push({
        error: 'error-password-policy-not-met-maxLength',
        message: 'The password does not meet the maximum length password policy.',
        limit: PASSWORD_MAX_LENGTH,
      });
    }
    if (broken.length > 0) {
      throw new DomainError(
        ErrorCode.PasswordPolicy,
        "The password provided does not meet the server's password policy.",
        broken,
      );
    }
  }

  /** Two changes racing for one name or address: the unique index decides; answer as if checked. */
  private unavailableOnRace(error: unknown): unknown {
    return isUniqueViolation(error)
      ? new DomainError(ErrorCode.FieldUnavailable, 'Username or email is already in use :(')
      : error;
  }

  /** FieldUnavailable when another user has the name (any case). Checked again, under the unique index, on write. */
  async assertUsernameFree(manager: EntityManager, username: string): Promise<void> {
    const taken = await manager
      .getRepository(User)
      .createQueryBuilder('user')
      .where('lower(user.username) = lower(:username)', { username })
      .getExists();
    if (taken) throw new DomainError(ErrorCode.FieldUnavailable, `${username} is already in use :(`, { field: 'username' });
  }

  /** FieldUnavailable when the address (any case) belongs to another user (`exceptUserId`'s own do not count). */
  async assertEmailFree(manager: EntityManager, address: string, exceptUserId?: string): Promise<void> {
    const query = manager
      .getRepository(UserEmail)
      .createQueryBuilder('email')
      .where('lower(email.address) = lower(:address)', { address });
    if (exceptUserId) query.andWhere('email.userId <> :exceptUserId', { exceptUserId });
    const taken = await query.getExists();
    if (taken) throw new DomainError(ErrorCode.FieldUnavailable, `${address} is already in use :(`, { field: 'email' });
  }

  /**
   * A never-verified primary address is simply replaced. Otherwise the new address waits beside
   * the verified one (one pending change at a time) until its link is opened.
   */
  private async requestEmailChange(manager: EntityManager, user: User, address: string): Promise<string[]> {
    const emails = await manager.find(UserEmail, { where: { userId: user.id } });
    const primary = emails.find((email) => email.isPrimary);
    if (primary?.address.toLowerCase() === address.toLowerCase()) return [];
    const replaced = emails.filter((email) => !email.verifiedAt).map((email) => email.id);
    if (replaced.length) await manager.delete(UserEmail, { id: In(replaced) });
    await this.assertEmailFree(manager, address);
    const email = manager.create(UserEmail, {
      userId: user.id,
      address,
      isPrimary: !primary?.verifiedAt,
      verifiedAt: null,
      verificationTokenHash: null,
      verificationExpiresAt: null,
    });
    await manager.insert(UserEmail, email);
    return [await this.queueVerification(manager, user, email)];
  }

  private async queueVerification(manager: EntityManager, user: User, email: UserEmail): Promise<string> {
    const token = randomToken();
    email.verificationTokenHash = sha256Hex(token);
    email.verificationExpiresAt = addSeconds(this.clock.now(), this.config.EMAIL_VERIFICATION_TTL_SECONDS);
    await manager.update(
      UserEmail,
      { id: email.id },
      {
        verificationTokenHash: email.verificationTokenHash,
        verificationExpiresAt: email.verificationExpiresAt,
      },
    );
    return this.mail.enqueue(manager, {
      to: [email.address],
      template: 'verify-email',
      locale: user.locale,
      data: {
        name: user.name || user.username,
        address: email.address,
        link: `${this.config.publicUrl}/verify-email?token=${encodeURIComponent(token)}`,
        ttlHours: Math.round(this.config.EMAIL_VERIFICATION_TTL_SECONDS / 3600),
      },
    });
  }
}
