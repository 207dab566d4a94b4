import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PasswordService } from '../auth/password.service.js';
import type { AuthenticatedSession } from '../auth/sessions.service.js';
import { SessionsService } from '../auth/sessions.service.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { MailService } from '../mail/mail.service.js';
import { TwoFactorService } from '../two-factor/two-factor.service.js';
import type { ClientInfo, TwoFactorAttempt } from '../two-factor/two-factor.types.js';
import type { User } from '../users/user.entity.js';
import { type ProfileWrite, UsersService, type UserWithEmails } from '../users/users.service.js';

export interface Registration {
  username: string;
  email: string;
  password: string;
  name: string;
  locale?: string | null;
}

export interface AdminCreatedUser extends Registration {
  verified?: boolean;
  roles?: string[];
}

export interface ProfileChanges {
  name?: string;
  username?: string;
  email?: string;
  /** Hex SHA-256 of the current password, as Rocket.Chat clients send it. */
  currentPassword?: string;
  newPassword?: string;
}

/** The second factor the request carries, and the client it comes from. */
export interface Confirmation {
  attempt: TwoFactorAttempt;
  client: ClientInfo;
}

/**
 * What a user does with their account that spans layers: registration (the user, then email 2FA
 * on), profile changes (the sensitive ones behind a fresh second factor, a new password ending
 * other sessions), deletion. Both REST surfaces call these; neither re-implements a rule.
 */
@Injectable()
export class AccountService {
  private readonly logger = new Logger('Account');

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly sessions: SessionsService,
    private readonly twoFactor: TwoFactorService,
    private readonly mail: MailService,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** Self-service registration: unverified email, verification link mailed (queued, not awaited). */
  register(input: Registration): Promise<UserWithEmails> {
    return this.create({ ...input, verified: false, roles: ['user'] });
  }

  /** Users created by an admin; unverified addresses get the verification link. */
  createByAdmin(actor: User, input: AdminCreatedUser): Promise<UserWithEmails> {
    if (!actor.roles.includes('admin')) throw new DomainError(ErrorCode.NotAuthorized, 'Only admins can create users');
    return this.create({ ...input, roles: input.roles ?? ['user'] });
  }

  /** ADMIN_USERNAME / ADMIN_EMAIL / ADMIN_PASSWORD: that admin, with a verified email, if no user has the name. */
  async ensureAdmin(): Promise<void> {
    const { ADMIN_USERNAME: username, ADMIN_EMAIL: email, ADMIN_PASSWORD: password } = this.config;
    if (!username || !email || !password) return;
    if (await this.users.findByUsername(username)) return;
    try {
      // The operator chose the name: a reserved one (say "admin") is theirs to take.
      await this.create(
        { username, email, password, name: username, verified: true, roles: ['admin', 'user'] },
        { allowReservedUsername: true },
      );
      this.logger.log(`Created admin user ${username}`);
    } catch (error) {
      // Another instance starting at the same time may have created it first.
      if (!(error instanceof DomainError && error.code === ErrorCode.FieldUnavailable)) throw error;
    }
  }

  /**
   * Name and username change with the session alone (Rocket.Chat asks nothing more). A new email
   * or password hands the account over, so it needs a second factor given with this very request
   * (the remember window never counts) and, for a new password, the current one.
   */
  async updateProfile(
    subject: AuthenticatedSession,
    changes: ProfileChanges,
    confirmation: Confirmation,
  ): Promise<UserWithEmails> {
    const { user, session } = subject;
    // Every value is checked before the second factor is asked: a refused one must not cost the
    // user a mailed code. (The unique indexes settle races with other users on write.)
    const write: ProfileWrite = {};
    const db = this.dataSource.manager;
    if (changes.name !== undefined) write.name = this.users.normalizeName(changes.name);
    if (changes.username !== undefined) {
      write.username = changes.username.trim();
      if (write.username.toLowerCase() !== user.username.toLowerCase()) {
        this.users.assertUsername(write.username);
        await this.users.assertUsernameFree(db, write.username);
      }
    }
    if (changes.email !== undefined) {
      write.email = changes.email.trim();
      this.users.assertEmail(write.email);
      await this.users.assertEmailFree(db, write.email, user.id);
    }
    if (changes.newPassword !== undefined) this.users.assertPasswordPolicy(changes.newPassword);

    if (write.email !== undefined || changes.newPassword !== undefined) {
      if (changes.newPassword !== undefined && changes.currentPassword === undefined) {
        throw new DomainError(ErrorCode.InvalidCredentials, 'The current password is needed to set a new one');
      }
      await this.twoFactor.confirmSensitiveChange(subject, { password: changes.currentPassword, ...confirmation });
      if (changes.newPassword !== undefined) write.passwordHash = await this.passwords.hash(changes.newPassword);
    }

    const outboxIds = await this.dataSource.transaction(async (manager) => {
      const queued = await this.users.writeProfile(manager, user.id, write);
      // Whoever knew the old password must not stay logged in.
      if (write.passwordHash !== undefined) await this.sessions.revokeOtherLoginSessions(user.id, session.id, manager);
      return queued;
    });
    void this.mail.deliverNow(outboxIds);
    const updated = await this.users.findById(user.id);
    return { user: updated ?? user, emails: await this.users.emailsOf(user.id) };
  }

  /**
   * Deletes the caller's account after a fresh second factor. `password` (hex SHA-256), when the
   * request carries it, is checked as Rocket.Chat checks it, and stands in for the password factor
   * of a user without a method.
   */
  async deleteOwnAccount(subject: AuthenticatedSession, password: string | undefined, confirmation: Confirmation): Promise<void> {
    await this.twoFactor.confirmSensitiveChange(subject, { password, ...confirmation });
    await this.users.deleteUser(subject.user.id);
  }

  private async create(input: AdminCreatedUser, options: { allowReservedUsername?: boolean } = {}): Promise<UserWithEmails> {
    const username = input.username.trim();
    this.users.assertUsername(username, { allowReserved: options.allowReservedUsername });
    const name = this.users.normalizeName(input.name);
    const email = input.email.trim();
    this.users.assertEmail(email);
    this.users.assertPasswordPolicy(input.password);
    const passwordHash = await this.passwords.hash(input.password);
    const { user, emails, outboxIds } = await this.dataSource.transaction(async (manager) => {
      const created = await this.users.create(manager, { ...input, username, name, email, passwordHash });
      if (this.config.TWO_FACTOR_EMAIL_AUTO_OPT_IN) await this.twoFactor.enableEmailByDefault(manager, created.user.id);
      return created;
    });
    void this.mail.deliverNow(outboxIds);
    return { user, emails };
  }
}
