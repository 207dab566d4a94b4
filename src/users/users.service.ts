import { Inject, Injectable, Logger } from '@nestjs/common';
import { isEmail } from 'class-validator';
import { DataSource, EntityManager } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { DomainEvents } from '../common/domain-events.js';
import { randomId, randomToken, sha256Hex } from '../common/random.js';
import { runDetached } from '../common/run-detached.js';
import { AppConfig } from '../config/app-config.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { MailService, type QueuedMail } from '../mail/mail.service.js';
import type { UserAccount } from './account-snapshot.js';
import { UserEmail } from './user-email.entity.js';
import { User } from './user.entity.js';
import { UsersRepository } from './users.repository.js';

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

/** Who a login names: by username, by email, or either (an `@` makes it an email). */
export type UserIdentifier = { username: string } | { email: string } | { usernameOrEmail: string };

/**
 * Users and their addresses: the bottom layer. It knows nothing of sessions or second factors;
 * flows that touch those too (registration, profile changes) live in AccountService above it.
 */
@Injectable()
export class UsersService {
  private readonly logger = new Logger('Users');

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly mail: MailService,
    private readonly events: DomainEvents,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  findById(id: string, db?: EntityManager): Promise<User | null> {
    return this.users.findById(id, db);
  }

  findByUsername(username: string): Promise<User | null> {
    return this.users.findByUsername(username);
  }

  findByEmail(address: string): Promise<User | null> {
    return this.users.findByEmail(address);
  }

  findByUsernameOrEmail(value: string): Promise<User | null> {
    return value.includes('@') ? this.findByEmail(value) : this.findByUsername(value);
  }

  /** The user with their addresses and methods, in one statement. */
  findAccount(identifier: UserIdentifier): Promise<UserAccount | null> {
    if ('username' in identifier) return this.users.findAccountByUsername(identifier.username);
    if ('email' in identifier) return this.users.findAccountByEmail(identifier.email);
    const value = identifier.usernameOrEmail;
    return value.includes('@') ? this.users.findAccountByEmail(value) : this.users.findAccountByUsername(value);
  }

  emailsOf(userId: string): Promise<UserEmail[]> {
    return this.users.emailsOf(userId);
  }

  verifiedAddresses(userId: string, db?: EntityManager): Promise<string[]> {
    return this.users.verifiedAddresses(userId, db);
  }

  lockForUpdate(db: EntityManager, userId: string): Promise<boolean> {
    return this.users.lockForUpdate(db, userId);
  }

  setPreferredTwoFactorMethod(userId: string, method: 'email' | 'totp' | null): Promise<void> {
    return this.users.setPreferredTwoFactorMethod(userId, method);
  }

  /**
   * Inserts the user and their primary address in the caller's transaction; an unverified address
   * gets a verification link queued. Returns the outbox ids to deliver once the transaction commits.
   */
  async create(manager: EntityManager, input: NewUser): Promise<UserWithEmails & { queuedMail: QueuedMail[] }> {
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
      await this.users.insertUser(manager, user);
      const email = manager.create(UserEmail, {
        userId: user.id,
        address: input.email,
        isPrimary: true,
        verifiedAt: input.verified ? this.clock.now() : null,
        verificationTokenHash: null,
        verificationExpiresAt: null,
      });
      await this.users.insertEmail(manager, email);
      const queuedMail = input.verified ? [] : [await this.queueVerification(manager, user, email)];
      const saved = (await this.users.findById(user.id, manager))!;
      return { user: saved, emails: [email], queuedMail };
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
      const queuedMail = await this.dataSource.transaction(async (manager) => {
        const email = await this.users.findUnverifiedEmail(manager, address);
        if (!email) return [];
        const user = (await this.users.findById(email.userId, manager))!;
        return [await this.queueVerification(manager, user, email)];
      });
      await this.mail.deliverNow(queuedMail);
    });
  }

  /**
   * Verifies the address; a pending new address (an email change) then replaces the old ones, and
   * the old address hears of it (an `email-changed` event: someone else may have changed it).
   */
  async verifyEmail(token: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const verified = await this.users.verifyByToken(manager, sha256Hex(token), this.clock.now());
      if (!verified) throw new DomainError(ErrorCode.InvalidToken, 'The verification link is invalid or has expired');
      const user = verified.replaced.length > 0 ? await this.users.findById(verified.userId, manager) : null;
      if (!user) return;
      for (const oldAddress of verified.replaced) {
        await this.events.publish({ type: 'email-changed', user, oldAddress, newAddress: verified.address }, manager);
      }
    });
  }

  /**
   * Writes checked profile fields in the caller's transaction. An email change takes effect when
   * the new address is verified (see verifyEmail); until then the verified address keeps receiving
   * codes, so the second factor never lapses. Returns the outbox ids of verification links queued.
   */
  async writeProfile(manager: EntityManager, userId: string, changes: ProfileWrite): Promise<QueuedMail[]> {
    try {
      const user = await this.users.findById(userId, manager);
      if (!user) throw new DomainError(ErrorCode.UserNotFound, 'user not found');
      if (changes.username !== undefined && changes.username.toLowerCase() !== user.username.toLowerCase()) {
        await this.assertUsernameFree(manager, changes.username);
      }
      const queuedMail = changes.email !== undefined ? await this.requestEmailChange(manager, user, changes.email) : [];
      if (changes.name !== undefined) user.name = changes.name;
      if (changes.username !== undefined) user.username = changes.username;
      if (changes.passwordHash !== undefined) user.passwordHash = changes.passwordHash;
      await this.users.saveUser(manager, user);
      return queuedMail;
    } catch (error) {
      throw this.unavailableOnRace(error);
    }
  }

  deleteUser(userId: string): Promise<void> {
    return this.users.deleteUser(userId);
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
    const taken = await this.users.usernameTaken(manager, username);
    if (taken) throw new DomainError(ErrorCode.FieldUnavailable, `${username} is already in use :(`, { field: 'username' });
  }

  /** FieldUnavailable when the address (any case) belongs to another user (`exceptUserId`'s own do not count). */
  async assertEmailFree(manager: EntityManager, address: string, exceptUserId?: string): Promise<void> {
    const taken = await this.users.emailTaken(manager, address, exceptUserId);
    if (taken) throw new DomainError(ErrorCode.FieldUnavailable, `${address} is already in use :(`, { field: 'email' });
  }

  /**
   * A never-verified primary address is simply replaced. Otherwise the new address waits beside
   * the verified one (one pending change at a time) until its link is opened.
   */
  private async requestEmailChange(manager: EntityManager, user: User, address: string): Promise<QueuedMail[]> {
    const emails = await this.users.emailsOf(user.id, manager);
    const primary = emails.find((email) => email.isPrimary);
    if (primary?.address.toLowerCase() === address.toLowerCase()) return [];
    await this.users.deleteEmails(
      manager,
      emails.filter((email) => !email.verifiedAt).map((email) => email.id),
    );
    await this.assertEmailFree(manager, address);
    const email = manager.create(UserEmail, {
      userId: user.id,
      address,
      isPrimary: !primary?.verifiedAt,
      verifiedAt: null,
      verificationTokenHash: null,
      verificationExpiresAt: null,
    });
    await this.users.insertEmail(manager, email);
    return [await this.queueVerification(manager, user, email)];
  }

  private async queueVerification(manager: EntityManager, user: User, email: UserEmail): Promise<QueuedMail> {
    const token = randomToken();
    email.verificationTokenHash = sha256Hex(token);
    email.verificationExpiresAt = addSeconds(this.clock.now(), this.config.EMAIL_VERIFICATION_TTL_SECONDS);
    await this.users.setVerification(manager, email.id, email.verificationTokenHash, email.verificationExpiresAt);
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
