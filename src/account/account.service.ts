import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PasswordService } from '../auth/password.service.js';
import type { AccountSnapshot } from '../users/account-snapshot.js';
import type { AuthenticatedSession } from '../auth/sessions.service.js';
import { SessionsService } from '../auth/sessions.service.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { DomainEvents } from '../common/domain-events.js';
import { randomId } from '../common/random.js';
import { AppConfig } from '../config/app-config.js';
import { MailService } from '../mail/mail.service.js';
import { TwoFactorMethodsService } from '../two-factor/two-factor-methods.service.js';
import { TwoFactorService } from '../two-factor/two-factor.service.js';
import type { ClientInfo, EnableableMethod, TwoFactorAttempt } from '../two-factor/two-factor.types.js';
import type { UserEmail } from '../users/user-email.entity.js';
import type { User } from '../users/user.entity.js';
import { type ProfileWrite, RESERVED_USERNAMES, UsersService, type UserWithEmails } from '../users/users.service.js';

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

/** A user with what every surface shows of them: addresses and second factors. */
export interface Profile {
  user: User;
  emails: UserEmail[];
  /** Enabled methods, in the order they are offered. */
  methods: EnableableMethod[];
  /** The method asked for first: the user's choice when they have it, else the first enabled. */
  preferredMethod: EnableableMethod | null;
}

export interface ProfileChanges {
  name?: string;
  username?: string;
  email?: string;
  /** Hex SHA-256 of the current password, as Rocket.Chat clients send it. */
  currentPassword?: string;
  newPassword?: string;
}

/** The second factor the request carries, the client it comes from, and the language of any alert. */
export interface Confirmation {
  attempt: TwoFactorAttempt;
  client: ClientInfo;
  locale?: string | null;
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
    private readonly methods: TwoFactorMethodsService,
    private readonly mail: MailService,
    private readonly events: DomainEvents,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /**
   * Self-service registration: unverified email, verification link mailed (queued, not awaited).
   * A taken address also tells its owner someone tried (a `registration-attempt` event).
   */
  async register(input: Registration): Promise<UserWithEmails> {
    try {
      return await this.create({ ...input, verified: false, roles: ['user'] });
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.FieldUnavailable) await this.announceAttempt(input);
      throw error;
    }
  }

  /**
   * Surface 2's registration, which names no username and answers the same whatever happens: the
   * username comes from the address (made unique), and a taken address gets its owner an alert
   * instead of an error, so the answer does not tell who has an account.
   */
  async registerQuietly(input: Omit<Registration, 'username'>): Promise<void> {
    const name = this.users.normalizeName(input.name);
    const email = input.email.trim();
    this.users.assertEmail(email);
    this.users.assertPasswordPolicy(input.password);
    if (await this.users.findByEmail(email)) {
      await this.announceAttempt({ ...input, email });
      return;
    }
    const base =
      email
        .split('@')[0]!
        .replace(/[^0-9a-zA-Z-_.]/g, '')
        .slice(0, 40) || 'user';
    for (let attempt = 0; ; attempt++) {
      const username =
        attempt === 0 && !RESERVED_USERNAMES.has(base.toLowerCase()) ? base : `${base}-${randomId(6).toLowerCase()}`;
      try {
        await this.create({ ...input, name, email, username, verified: false, roles: ['user'] });
        return;
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        // The address was taken meanwhile: the same quiet answer.
        if (error.code === ErrorCode.FieldUnavailable && (await this.users.findByEmail(email))) {
          await this.announceAttempt({ ...input, email });
          return;
        }
        if (error.code !== ErrorCode.FieldUnavailable || attempt >= 5) throw error;
      }
    }
  }

  /** Users created by an admin; unverified addresses get the verification link. */
  createByAdmin(actor: User, input: AdminCreatedUser): Promise<UserWithEmails> {
    if (!actor.roles.includes('admin')) throw new DomainError(ErrorCode.NotAuthorized, 'Only admins can create users');
    return this.create({ ...input, roles: input.roles ?? ['user'] });
  }

  findUser(userId: string): Promise<User | null> {
    return this.users.findById(userId);
  }

  /**
   * The user with their addresses and second factors (from the request's snapshot when it has one:
   * no query). InvalidPrincipalDocument for a user without any address: every user has one, so the
   * record is broken.
   */
  async profileOf(user: User, snapshot?: AccountSnapshot): Promise<Profile> {
    const [emails, methods] = snapshot
      ? [snapshot.emails, this.twoFactor.availableIn(snapshot)]
      : await Promise.all([this.users.emailsOf(user.id), this.twoFactor.availableMethods(user.id)]);
    if (emails.length === 0) throw new DomainError(ErrorCode.InvalidPrincipalDocument, 'The user has no email address');
    const offered = this.twoFactor.offeredMethod(user, methods, 'preferred');
    return { user, emails, methods, preferredMethod: offered === 'email' || offered === 'totp' ? offered : null };
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

    const queuedMail = await this.dataSource.transaction(async (manager) => {
      const queued = await this.users.writeProfile(manager, user.id, write);
      if (write.passwordHash !== undefined) {
        // Whoever knew the old password must not stay logged in; the owner hears of the change.
        await this.sessions.revokeOtherLoginSessions(user.id, session.id, manager);
        await this.events.publish(
          { type: 'password-changed', user, client: confirmation.client, locale: confirmation.locale },
          manager,
        );
      }
      return queued;
    });
    void this.mail.deliverNow(queuedMail);
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

  /** Tells the owner of a taken address that someone tried to register with it. */
  private async announceAttempt(input: { email: string; locale?: string | null }): Promise<void> {
    const owner = await this.users.findByEmail(input.email.trim());
    if (!owner) return;
    await this.events.publish(
      { type: 'registration-attempt', user: owner, address: input.email.trim(), locale: input.locale },
      this.dataSource.manager,
    );
  }

  private async create(input: AdminCreatedUser, options: { allowReservedUsername?: boolean } = {}): Promise<UserWithEmails> {
    const username = input.username.trim();
    this.users.assertUsername(username, { allowReserved: options.allowReservedUsername });
    const name = this.users.normalizeName(input.name);
    const email = input.email.trim();
    this.users.assertEmail(email);
    this.users.assertPasswordPolicy(input.password);
    const passwordHash = await this.passwords.hash(input.password);
    const { user, emails, queuedMail } = await this.dataSource.transaction(async (manager) => {
      const created = await this.users.create(manager, { ...input, username, name, email, passwordHash });
      if (this.config.TWO_FACTOR_EMAIL_AUTO_OPT_IN) await this.methods.enableEmailByDefault(manager, created.user.id);
      return created;
    });
    void this.mail.deliverNow(queuedMail);
    return { user, emails };
  }
}
