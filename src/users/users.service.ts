import { Inject, Injectable, Logger } from '@nestjs/common';
import { isEmail } from 'class-validator';
import { DataSource, EntityManager, In, IsNull, Not } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { randomId, randomToken, sha256Hex } from '../common/random.js';
import { runDetached } from '../common/run-detached.js';
import { PasswordService } from '../auth/password.service.js';
import { SessionsService } from '../auth/sessions.service.js';
import { AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { MailService } from '../mail/mail.service.js';
import { TwoFactorMethod } from '../two-factor/two-factor-method.entity.js';
import { UserEmail } from './user-email.entity.js';
import { User } from './user.entity.js';

export const USERNAME_PATTERN = /^[0-9a-zA-Z-_.]{3,32}$/;

export interface NewUser {
  username: string;
  email: string;
  password: string;
  name: string;
  verified?: boolean;
  roles?: string[];
  locale?: string | null;
}

export interface UserWithEmails {
  user: User;
  emails: UserEmail[];
}

export interface ProfileChanges {
  name?: string;
  username?: string;
  email?: string;
  currentPassword?: string;
  newPassword?: string;
}

@Injectable()
export class UsersService {
  private readonly logger = new Logger('Users');

  constructor(
    private readonly dataSource: DataSource,
    private readonly passwords: PasswordService,
    private readonly sessions: SessionsService,
    private readonly mail: MailService,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** Self-service registration: unverified email, verification link mailed (queued, not awaited). */
  async register(input: NewUser, locale?: string): Promise<UserWithEmails> {
    const { result, outboxIds } = await this.createInTransaction({ ...input, verified: false, roles: ['user'], locale });
    void this.mail.deliverNow(outboxIds);
    return result;
  }

  /** Users created by an admin; unverified addresses get the verification link. */
  async createByAdmin(actor: User, input: NewUser): Promise<UserWithEmails> {
    if (!actor.roles.includes('admin')) throw new DomainError(ErrorCode.NotAuthorized, 'Only admins can create users');
    const { result, outboxIds } = await this.createInTransaction({ ...input, roles: input.roles ?? ['user'] });
    void this.mail.deliverNow(outboxIds);
    return result;
  }

  async findById(id: string): Promise<User | null> {
    return this.dataSource.getRepository(User).findOneBy({ id });
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

  async verifiedAddresses(userId: string): Promise<string[]> {
    const emails = await this.dataSource
      .getRepository(UserEmail)
      .find({ where: { userId, verifiedAt: Not(IsNull()) }, order: { isPrimary: 'DESC', id: 'ASC' } });
    return emails.map((email) => email.address);
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
   * `keepSessionId`: the caller's session; a password change ends every other login session.
   * An email change takes effect when the new address is verified (see verifyEmail); until then
   * the verified address keeps receiving codes, so the second factor never lapses.
   */
  async updateProfile(userId: string, changes: ProfileChanges, keepSessionId: string): Promise<UserWithEmails> {
    const { outboxIds } = await this.dataSource
      .transaction(async (manager) => {
        const user = await manager.findOneByOrFail(User, { id: userId });
        const queued: string[] = [];
        if (changes.newPassword !== undefined) {
          if (!changes.currentPassword || !(await this.passwords.verifyDigest(user.passwordHash, changes.currentPassword))) {
            throw new DomainError(ErrorCode.InvalidCredentials, 'The current password is not correct');
          }
          this.assertPasswordPolicy(changes.newPassword);
          user.passwordHash = await this.passwords.hash(changes.newPassword);
          await this.sessions.revokeOtherLoginSessions(user.id, keepSessionId, manager);
        }
        if (changes.name !== undefined) user.name = changes.name;
        if (changes.username !== undefined) {
          if (changes.username.toLowerCase() !== user.username.toLowerCase()) {
            this.assertUsername(changes.username);
            await this.assertUsernameFree(manager, changes.username);
          }
          user.username = changes.username;
        }
        if (changes.email !== undefined) {
          queued.push(...(await this.requestEmailChange(manager, user, changes.email)));
        }
        await manager.save(User, user);
        return { outboxIds: queued };
      })
      .catch((error: unknown) => {
        // A parallel change took the name or address after the check: the unique index decides.
        if (isUniqueViolation(error)) throw new DomainError(ErrorCode.FieldUnavailable, 'Username or email is already in use :(');
        throw error;
      });
    void this.mail.deliverNow(outboxIds);
    const user = await this.dataSource.getRepository(User).findOneByOrFail({ id: userId });
    return { user, emails: await this.emailsOf(userId) };
  }

  async deleteUser(userId: string): Promise<void> {
    await this.dataSource.getRepository(User).delete({ id: userId });
  }

  /** Creates ADMIN_USERNAME with a verified email when no user of that username exists. */
  async ensureAdmin(): Promise<void> {
    const { ADMIN_USERNAME: username, ADMIN_EMAIL: email, ADMIN_PASSWORD: password } = this.config;
    if (!username || !email || !password) return;
    if (await this.findByUsername(username)) return;
    try {
      await this.createInTransaction({ username, email, password, name: username, verified: true, roles: ['admin', 'user'] });
      this.logger.log(`Created admin user ${username}`);
    } catch (error) {
      // Another instance starting at the same time may have created it first.
      if (!(error instanceof DomainError && error.code === ErrorCode.FieldUnavailable)) throw error;
    }
  }

  assertPasswordPolicy(password: string): void {
    if (password.length < this.config.PASSWORD_MIN_LENGTH || password.length > 256) {
      throw new DomainError(
        ErrorCode.PasswordPolicy,
        `The password must be between ${this.config.PASSWORD_MIN_LENGTH} and 256 characters`,
      );
    }
  }

  private assertUsername(username: string): void {
    if (!USERNAME_PATTERN.test(username)) {
      throw new DomainError(ErrorCode.InvalidUsername, 'The username must be 3-32 letters, digits, ".", "-" or "_"');
    }
  }

  private assertEmail(address: string): void {
    if (address.length > 254 || !isEmail(address)) throw new DomainError(ErrorCode.InvalidEmail, `Invalid email ${address}`);
  }

  private async assertUsernameFree(manager: EntityManager, username: string): Promise<void> {
    const taken = await manager
      .getRepository(User)
      .createQueryBuilder('user')
      .where('lower(user.username) = lower(:username)', { username })
      .getExists();
    if (taken) throw new DomainError(ErrorCode.FieldUnavailable, `${username} is already in use :(`, { field: 'username' });
  }

  private async assertEmailFree(manager: EntityManager, address: string): Promise<void> {
    const taken = await manager
      .getRepository(UserEmail)
      .createQueryBuilder('email')
      .where('lower(email.address) = lower(:address)', { address })
      .getExists();
    if (taken) throw new DomainError(ErrorCode.FieldUnavailable, `${address} is already in use :(`, { field: 'email' });
  }

  private async createInTransaction(input: NewUser): Promise<{ result: UserWithEmails; outboxIds: string[] }> {
    this.assertUsername(input.username);
    this.assertEmail(input.email);
    this.assertPasswordPolicy(input.password);
    const passwordHash = await this.passwords.hash(input.password);
    try {
      return await this.dataSource.transaction(async (manager) => {
        await this.assertUsernameFree(manager, input.username);
        await this.assertEmailFree(manager, input.email);
        const now = this.clock.now();
        const user = manager.create(User, {
          id: randomId(),
          username: input.username,
          name: input.name,
          passwordHash,
          locale: input.locale ?? null,
          roles: input.roles ?? ['user'],
        });
        await manager.insert(User, user);
        const email = manager.create(UserEmail, {
          userId: user.id,
          address: input.email,
          isPrimary: true,
          verifiedAt: input.verified ? now : null,
          verificationTokenHash: null,
          verificationExpiresAt: null,
        });
        await manager.insert(UserEmail, email);
        if (this.config.TWO_FACTOR_EMAIL_AUTO_OPT_IN) {
          // Effective only once the user has a verified address (TwoFactorService checks both).
          await manager.insert(TwoFactorMethod, { userId: user.id, method: 'email', status: 'enabled', changedAt: now });
        }
        const outboxIds = input.verified ? [] : [await this.queueVerification(manager, user, email)];
        const saved = await manager.findOneByOrFail(User, { id: user.id });
        return { result: { user: saved, emails: [email] }, outboxIds };
      });
    } catch (error) {
      // Two registrations racing for one name: the unique index decides; answer as if checked.
      if (isUniqueViolation(error)) {
        throw new DomainError(ErrorCode.FieldUnavailable, 'Username or email is already in use :(');
      }
      throw error;
    }
  }

  /**
   * A never-verified primary address is simply replaced. Otherwise the new address waits beside
   * the verified one (one pending change at a time) until its link is opened.
   */
  private async requestEmailChange(manager: EntityManager, user: User, address: string): Promise<string[]> {
    this.assertEmail(address);
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
