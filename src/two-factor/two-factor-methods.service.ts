import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { SessionsService } from '../auth/sessions.service.js';
import { Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { DomainEvents } from '../common/domain-events.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { BackupCodesService } from './backup-codes.service.js';
import { EmailCodesService, SECOND_FACTOR_PURPOSE } from './email-codes.service.js';
import { TwoFactorMethodsRepository } from './repositories/two-factor-methods.repository.js';
import { TotpService, type TotpSetup } from './totp.service.js';
import { TwoFactorService } from './two-factor.service.js';
import type { ClientInfo, EnableableMethod } from './two-factor.types.js';

export interface DisableOptions {
  /**
   * Refuse to switch off the user's only method (CannotDisableOnlyTwoFactorMethod): Singularity's
   * rule. Rocket.Chat lets users switch their last method off.
   */
  keepOne?: boolean;
  /**
   * TwoFactorMethodAlreadyDisabled when the method was not on (Singularity's 304); Rocket.Chat
   * answers success either way.
   */
  reportUnchanged?: boolean;
  /** The language of the security alert, when the request names one. */
  locale?: string | null;
}

/**
 * Turning methods on and off: email, TOTP (a pending secret until confirmed) and its backup codes,
 * and the preferred method. A new method ends the user's other sessions; every change is audited
 * and announced (a security alert mail, through DomainEvents).
 */
@Injectable()
export class TwoFactorMethodsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly methods: TwoFactorMethodsRepository,
    private readonly twoFactor: TwoFactorService,
    private readonly codes: EmailCodesService,
    private readonly totp: TotpService,
    private readonly backupCodes: BackupCodesService,
    private readonly audit: AuditService,
    private readonly events: DomainEvents,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** Registration's default (TWO_FACTOR_EMAIL_AUTO_OPT_IN): effective once the user has a verified address. */
  async enableEmailByDefault(manager: EntityManager, userId: string): Promise<void> {
    await this.methods.enableEmail(manager, userId, this.clock.now());
  }

  /**
   * Turns email 2FA on; NoVerifiedEmail without a verified address. A new second factor must not
   * leave sessions opened without it behind: the user's other login sessions end
   * (`keepSessionId` excepted; personal access tokens stay). Returns false when it already was on.
   */
  async enableEmail(
    user: User,
    keepSessionId: string | null,
    client: ClientInfo,
    locale?: string | null,
    options: { revokeAccessTokens?: boolean } = {},
  ): Promise<boolean> {
    const changed = await this.dataSource.transaction(async (manager) => {
      // Deleted meanwhile (its sessions go with it, but this request was already past them).
      if (!(await this.users.lockForUpdate(manager, user.id))) throw new DomainError(ErrorCode.UserNotFound, 'User not found.');
      if ((await this.users.verifiedAddresses(user.id, manager)).length === 0) {
        throw new DomainError(ErrorCode.NoVerifiedEmail, 'You need a verified email to enable 2FA by email');
      }
      const changed = await this.methods.enableEmail(manager, user.id, this.clock.now());
      if (!changed) return false;
      await this.audit.record({ userId: user.id, type: 'method_enabled', outcome: 'success', method: 'email', client }, manager);
      await this.sessions.revokeOtherLoginSessions(user.id, keepSessionId, manager);
      if (options.revokeAccessTokens) await this.sessions.revokeAccessTokens(user.id, manager);
      await this.events.publish({ type: 'two-factor-method-added', user, method: 'email', client, locale }, manager);
      return true;
    });
    return changed;
  }

  /**
   * Surface 2's way: email 2FA turned on with a code mailed to the user's address (proving it
   * reaches them). A wrong code is TwoFactorInvalid, a late one TwoFactorCodeExpired, counted like
   * any second-factor attempt. Every other session ends, and every access token of the user stops
   * working (clients refresh). TwoFactorMethodAlreadyEnabled when it was on.
   */
  async enableEmailWithCode(
    user: User,
    code: string,
    keepSessionId: string,
    client: ClientInfo,
    locale?: string | null,
  ): Promise<void> {
    if (!user.passwordHash)
      throw new DomainError(ErrorCode.NoPasswordProvider, 'The user needs a password for two-factor authentication');
    if ((await this.twoFactor.availableMethods(user.id)).includes('email')) {
      throw new DomainError(ErrorCode.TwoFactorMethodAlreadyEnabled, 'Email two-factor authentication is already on');
    }
    const result = await this.twoFactor.verifySecondFactor(user, 'email', code, client);
    if (result.maxAttemptsReached)
      throw new DomainError(ErrorCode.TwoFactorMaxAttempts, 'Too many wrong codes; request a new one');
    if (result.verdict === 'expired') throw new DomainError(ErrorCode.TwoFactorCodeExpired, 'Two-factor code has expired.');
    if (result.verdict !== 'verified') throw new DomainError(ErrorCode.TwoFactorInvalid, 'Wrong two-factor code.');
    await this.enableEmail(user, keepSessionId, client, locale, { revokeAccessTokens: true });
  }

  /** Turns email 2FA off (its outstanding codes die). */
  async disableEmail(user: User, client: ClientInfo, options: DisableOptions = {}): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.assertMayDisable(manager, user, 'email', options);
      if ((await this.methods.remove(manager, user.id, 'email')) === null) {
        if (options.reportUnchanged) {
          throw new DomainError(ErrorCode.TwoFactorMethodAlreadyDisabled, 'Email two-factor authentication is already off');
        }
        return;
      }
      await this.codes.invalidateAll(user.id, SECOND_FACTOR_PURPOSE, manager);
      await this.audit.record({ userId: user.id, type: 'method_disabled', outcome: 'success', method: 'email', client }, manager);
      await this.events.publish(
        { type: 'two-factor-method-removed', user, method: 'email', client, locale: options.locale },
        manager,
      );
    });
  }

  /** A new TOTP secret, pending until confirmed with a code (enableTotp); a pending one is replaced. */
  beginTotpSetup(user: User): Promise<TotpSetup> {
    return this.totp.beginSetup(user);
  }

  /**
   * Surface 2's set-up: the pending secret with its recovery codes shown now (they work once TOTP
   * is on), and the fingerprint a set-up token binds (a newer set-up makes older tokens stale).
   */
  async beginTotpSetupWithRecoveryCodes(user: User): Promise<TotpSetup & { recoveryCodes: string[]; fingerprint: string }> {
    const setup = await this.totp.beginSetup(user);
    const recoveryCodes = await this.dataSource.transaction((manager) => this.backupCodes.regenerate(manager, user.id));
    const fingerprint = await this.totp.pendingFingerprint(user.id);
    if (!fingerprint) throw new DomainError(ErrorCode.TotpSetupTokenInvalid, 'The set-up was replaced meanwhile');
    return { ...setup, recoveryCodes, fingerprint };
  }

  /**
   * Turns the pending TOTP on when `code` is right and returns fresh backup codes (shown once).
   * Like enableEmail, ends every other login session of the user. `setupFingerprint` (surface 2's
   * set-up token) must still name the pending secret.
   */
  async enableTotp(
    user: User,
    code: string,
    keepSessionId: string | null,
    client: ClientInfo,
    options: { setupFingerprint?: string; locale?: string | null; keepBackupCodes?: boolean } = {},
  ): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      await this.totp.confirm(manager, user.id, code, options.setupFingerprint);
      const backupCodes = options.keepBackupCodes ? [] : await this.backupCodes.regenerate(manager, user.id);
      await this.audit.record({ userId: user.id, type: 'method_enabled', outcome: 'success', method: 'totp', client }, manager);
      await this.sessions.revokeOtherLoginSessions(user.id, keepSessionId, manager);
      await this.events.publish(
        { type: 'two-factor-method-added', user, method: 'totp', client, locale: options.locale },
        manager,
      );
      return backupCodes;
    });
  }

  /** Removes TOTP (enabled or pending) and the backup codes. */
  async disableTotp(user: User, client: ClientInfo, options: DisableOptions = {}): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.assertMayDisable(manager, user, 'totp', options);
      const removed = await this.methods.remove(manager, user.id, 'totp');
      await this.backupCodes.deleteAll(manager, user.id);
      if (removed === 'enabled') {
        await this.audit.record(
          { userId: user.id, type: 'method_disabled', outcome: 'success', method: 'totp', client },
          manager,
        );
        await this.events.publish(
          { type: 'two-factor-method-removed', user, method: 'totp', client, locale: options.locale },
          manager,
        );
      } else if (options.reportUnchanged) {
        throw new DomainError(ErrorCode.TwoFactorMethodAlreadyDisabled, 'TOTP is already off');
      }
    });
  }

  /** Replaces every backup code of a TOTP user; TotpNotEnabled otherwise. */
  async regenerateBackupCodes(user: User, client: ClientInfo): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      // FOR SHARE: a parallel disableTotp waits, so no codes outlive the method.
      if (!(await this.methods.totpEnabledForShare(manager, user.id))) {
        throw new DomainError(ErrorCode.TotpNotEnabled, 'TOTP is not enabled');
      }
      const codes = await this.backupCodes.regenerate(manager, user.id);
      await this.audit.record(
        { userId: user.id, type: 'backup_codes_regenerated', outcome: 'success', method: 'totp', client },
        manager,
      );
      return codes;
    });
  }

  backupCodesRemaining(userId: string): Promise<number> {
    return this.backupCodes.remaining(userId);
  }

  /** The method a user is asked for first (surface 2); TwoFactorMethodDisabled unless they have it. */
  async setPreferredMethod(user: User, method: EnableableMethod): Promise<void> {
    if (!(await this.twoFactor.availableMethods(user.id)).includes(method)) {
      throw new DomainError(ErrorCode.TwoFactorMethodDisabled, `The ${method} method is not enabled`);
    }
    await this.users.setPreferredTwoFactorMethod(user.id, method);
  }

  /**
   * TWO_FACTOR_REQUIRED_ROLES (a user holding such a role keeps a second factor) and, when asked,
   * Singularity's "keep one" rule. Runs in the disabling transaction with the user's row locked, so
   * two parallel disables of the two last methods cannot both pass.
   */
  private async assertMayDisable(
    manager: EntityManager,
    user: User,
    method: EnableableMethod,
    options: DisableOptions,
  ): Promise<void> {
    const requiredByRole = user.roles.some((role) => this.config.TWO_FACTOR_REQUIRED_ROLES.includes(role));
    if (!requiredByRole && !options.keepOne) return;
    await this.users.lockForUpdate(manager, user.id);
    const available = await this.twoFactor.availableMethods(user.id, manager);
    const last = available.includes(method) && available.every((other) => other === method);
    if (!last) return;
    if (requiredByRole) {
      throw new DomainError(
        ErrorCode.TwoFactorRequiredByPolicy,
        'Your role requires two-factor authentication: enable another method before switching this one off',
      );
    }
    throw new DomainError(ErrorCode.CannotDisableOnlyTwoFactorMethod, 'Cannot disable the only two-factor authentication method');
  }
}
