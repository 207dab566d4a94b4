import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { runDetached } from '../common/run-detached.js';
import { PasswordService } from '../auth/password.service.js';
import { SessionsService } from '../auth/sessions.service.js';
import { AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';
import { MailService } from '../mail/mail.service.js';
import type { Session } from '../auth/session.entity.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { BackupCodesService } from './backup-codes.service.js';
import { CodePurpose, EmailCodesService, formatEmailCode } from './email-codes.service.js';
import { SecondFactorFailuresService } from './second-factor-failures.service.js';
import { TwoFactorMethod } from './two-factor-method.entity.js';
import { normalizeTotpCode, TotpService, type TotpSetup } from './totp.service.js';
import {
  ClientInfo,
  SecondFactorMethod,
  TwoFactorAttempt,
  TwoFactorChallengeDetails,
  TwoFactorCheckOptions,
  TwoFactorOutcome,
  TwoFactorSubject,
} from './two-factor.types.js';

const HANDSHAKE_PURPOSE: CodePurpose = 'two-factor';

/** The order methods are offered in: the authenticator app first. */
const METHOD_ORDER: SecondFactorMethod[] = ['totp', 'email'];

/** One second factor checked (see verifySecondFactor). */
export interface SecondFactorVerification {
  verified: boolean;
  /** EMAIL_CODE_MAX_ATTEMPTS wrong codes: the outstanding email codes died (or this code was refused unchecked). */
  maxAttemptsReached: boolean;
  /** Set when this failure locked the account. */
  lockedUntil: Date | null;
}

export interface EmailCodeSent {
  codeGenerated: boolean;
  codeCount: number;
  codeExpires: Date | null;
  addresses: string[];
}

/** Binds a remembered second factor to one client: user agent and address. */
export const clientFingerprint = (client: ClientInfo): string =>
  createHash('sha256').update(`${client.userAgent}\n${client.ip}`).digest('hex');

@Injectable()
export class TwoFactorService {
  private readonly logger = new Logger('TwoFactor');

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly passwords: PasswordService,
    private readonly codes: EmailCodesService,
    private readonly failures: SecondFactorFailuresService,
    private readonly mail: MailService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly totp: TotpService,
    private readonly backupCodes: BackupCodesService,
  ) {}

  /**
   * Enabled methods in the order they are offered: totp, then email. Email counts only once the
   * user has a verified address.
   */
  async availableMethods(userId: string, manager: EntityManager = this.dataSource.manager): Promise<SecondFactorMethod[]> {
    const rows = await queryRows<{ method: SecondFactorMethod }>(
      manager,
      `SELECT m.method FROM two_factor_methods m
        WHERE m.user_id = $1 AND m.status = 'enabled'
          AND (m.method <> 'email' OR EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = m.user_id AND e.verified_at IS NOT NULL))`,
      [userId],
    );
    const enabled = new Set(rows.map((row) => row.method));
    return METHOD_ORDER.filter((method) => enabled.has(method));
  }

  /** Whether the session carries a second factor remembered for this very client. */
  isRemembered(session: Session | null | undefined, client: ClientInfo): boolean {
    return Boolean(
      session?.twoFactorUntil &&
      session.twoFactorFingerprint &&
      session.twoFactorUntil > this.clock.now() &&
      session.twoFactorFingerprint === clientFingerprint(client),
    );
  }

  /**
   * The handshake. Without a code: throws TwoFactorRequired (mailing a code for the email method).
   * With a wrong code: TwoFactorInvalid, or TwoFactorMaxAttempts once too many. A right code is
   * used up and, on a login session, remembered for REMEMBER_2FA_SECONDS for this client.
   */
  async check(
    subject: TwoFactorSubject,
    attempt: TwoFactorAttempt,
    client: ClientInfo,
    options: TwoFactorCheckOptions,
  ): Promise<TwoFactorOutcome> {
    const { user, session } = subject;
    if (session?.bypassTwoFactor) return 'bypassed';
    if (options.rememberable && this.isRemembered(session, client)) return 'remembered';

    const available = await this.availableMethods(user.id);
    if (available.length === 0 && (!options.passwordFallback || !user.passwordHash)) return 'not-required';
    const offered: SecondFactorMethod = available[0] ?? 'password';
    const code = attempt.code?.trim();

    // Checked before anything else: a locked account neither gets codes mailed nor has them checked.
    await this.assertNotLocked(user, () => this.describe(user, offered, available, { send: false, client }));

    if (!code) {
      const details = await this.describe(user, offered, available, { send: true, client });
      throw new DomainError(ErrorCode.TwoFactorRequired, 'TOTP Required', details);
    }

    const method = this.resolveMethod(attempt.method, available);
    if (!method) {
      throw new DomainError(
        ErrorCode.TwoFactorInvalid,
        'TOTP Invalid',
        await this.describe(user, offered, available, { send: false, client }),
      );
    }
    const outcome = await this.attempt(user, method, code, client);
    if (outcome.refusedLockedUntil) {
      throw this.lockedError(outcome.refusedLockedUntil, await this.describe(user, offered, available, { send: false, client }));
    }
    if (outcome.verified) {
      await this.audit.record({ userId: user.id, type: 'second_factor_verified', outcome: 'success', method, client });
      if (session?.kind === 'login') {
        await this.sessions.rememberTwoFactor(session.id, clientFingerprint(client), this.rememberUntil());
      }
      return 'verified';
    }

    await this.audit.record({ userId: user.id, type: 'second_factor_failed', outcome: 'failure', method, client });
    const details = await this.describe(user, method, available, { send: false, client });
    if (outcome.maxAttemptsReached) {
      throw new DomainError(ErrorCode.TwoFactorMaxAttempts, 'Too many wrong codes; request a new one', details);
    }
    throw new DomainError(ErrorCode.TwoFactorInvalid, 'TOTP Invalid', details);
  }

  /**
   * One second factor checked outside the handshake (a challenge). A right code is used up and
   * clears the failure counters; a wrong one counts towards EMAIL_CODE_MAX_ATTEMPTS (then the
   * outstanding email codes die) and the account lockout (recorded here). Nothing is remembered on
   * a session, and the attempt's own audit event is the caller's: it knows what the code was for.
   * Throws TwoFactorLocked while the account is locked.
   */
  async verifySecondFactor(
    user: User,
    method: SecondFactorMethod,
    code: string,
    client: ClientInfo,
    /** The caller's transaction: every count and use then commits with the caller's own writes. */
    db: EntityManager = this.dataSource.manager,
  ): Promise<SecondFactorVerification> {
    const { refusedLockedUntil, ...outcome } = await this.attempt(user, method, code.trim(), client, db);
    if (refusedLockedUntil) throw this.lockedError(refusedLockedUntil);
    return outcome;
  }

  /**
   * TwoFactorLocked while the user's second factor is locked; its details say until when, plus
   * what `details` adds (the handshake's method and addresses).
   */
  async assertNotLocked(user: User, details?: () => Promise<TwoFactorChallengeDetails>): Promise<void> {
    const lockedUntil = await this.failures.lockedUntil(user.id);
    if (lockedUntil) throw this.lockedError(lockedUntil, details ? await details() : undefined);
  }

  private lockedError(lockedUntil: Date, details?: TwoFactorChallengeDetails): DomainError {
    return new DomainError(ErrorCode.TwoFactorLocked, 'Too many failed attempts; try again later', {
      ...details,
      lockedUntil: lockedUntil.toISOString(),
    });
  }

  /**
   * Checks one code and keeps the counts. The attempt is counted before the check, so parallel
   * guesses get no more checks than sequential ones. Refused unchecked while the account is locked
   * (`refusedLockedUntil`) or once this purpose's attempts are used up (`maxAttemptsReached`).
   */
  private async attempt(
    user: User,
    method: SecondFactorMethod,
    code: string,
    client: ClientInfo,
    db: EntityManager = this.dataSource.manager,
  ): Promise<SecondFactorVerification & { refusedLockedUntil?: Date }> {
    const reservation = await this.failures.reserve(user.id, HANDSHAKE_PURPOSE, db);
    if (reservation.refused === 'locked') {
      return { verified: false, maxAttemptsReached: false, lockedUntil: null, refusedLockedUntil: reservation.lockedUntil };
    }
    if (reservation.refused === 'exhausted') return { verified: false, maxAttemptsReached: true, lockedUntil: null };
    if (await this.verify(user, method, code, db)) {
      await this.failures.settleSuccess(user.id, HANDSHAKE_PURPOSE, db);
      return { verified: true, maxAttemptsReached: false, lockedUntil: null };
    }
    const outcome = await this.failures.settleFailure(user.id, HANDSHAKE_PURPOSE, reservation, db);
    if (outcome.lockedUntil)
      await this.audit.record({ userId: user.id, type: 'lockout', outcome: 'failure', method, client }, db);
    if (outcome.maxAttemptsReached) await this.codes.invalidateAll(user.id, HANDSHAKE_PURPOSE, db);
    return { verified: false, ...outcome };
  }

  /**
   * An admin lifts a user's second-factor lock: the way out of the lasting lock at
   * LOCKOUT_MAX_FAILURES. UserNotFound for an unknown user.
   */
  async unlock(admin: User, userId: string, client: ClientInfo): Promise<void> {
    if (!admin.roles.includes('admin')) throw new DomainError(ErrorCode.NotAuthorized, 'Only admins can unlock users');
    if (!(await this.users.findById(userId))) throw new DomainError(ErrorCode.UserNotFound, 'user not found');
    if (await this.failures.clear(userId)) {
      await this.audit.record({ userId, type: 'lockout_cleared', outcome: 'success', client });
    }
  }

  rememberUntil(): Date {
    return addSeconds(this.clock.now(), this.config.REMEMBER_2FA_SECONDS);
  }

  /**
   * Mails a handshake code to every verified address, unless one sent less than
   * EMAIL_CODE_RESEND_AFTER_SECONDS ago is still valid. `awaitDelivery`: wait for the first
   * attempt and fail with EmailSendFailed if it did not go out (the message stays queued).
   */
  async sendEmailCode(
    user: User,
    options: {
      awaitDelivery: boolean;
      client: ClientInfo;
      /** An explicit resend: a new code even inside the resend window. */ fresh?: boolean;
    },
  ): Promise<EmailCodeSent> {
    // A locked account gets no codes, whoever asks (handshake, resend, challenge).
    await this.assertNotLocked(user);
    const addresses = await this.users.verifiedAddresses(user.id);
    if (addresses.length === 0) return { codeGenerated: false, codeCount: 0, codeExpires: null, addresses };
    const existing = await this.codes.outstanding(user.id, HANDSHAKE_PURPOSE);
    const resendAfter = this.config.EMAIL_CODE_RESEND_AFTER_SECONDS;
    if (!options.fresh && existing.newestCreatedAt && addSeconds(existing.newestCreatedAt, resendAfter) > this.clock.now()) {
      return { codeGenerated: false, codeCount: existing.count, codeExpires: existing.newestExpiresAt, addresses };
    }
    const { issued, outboxId } = await this.dataSource.transaction(async (manager) => {
      const issued = await this.codes.issue(manager, user.id, HANDSHAKE_PURPOSE);
      const outboxId = await this.mail.enqueue(manager, {
        to: addresses,
        template: 'email-code',
        locale: user.locale,
        data: {
          name: user.name || user.username,
          formattedCode: formatEmailCode(issued.code),
          purpose: HANDSHAKE_PURPOSE,
          ttlMinutes: Math.round(this.config.EMAIL_CODE_TTL_SECONDS / 60),
          // The outbox drops the message rather than deliver a dead code.
          expiresAt: issued.expiresAt.toISOString(),
        },
      });
      await this.audit.record(
        { userId: user.id, type: 'code_sent', outcome: 'success', method: 'email', client: options.client },
        manager,
      );
      return { issued, outboxId };
    });
    const delivery = this.mail.deliverNow([outboxId]);
    if (options.awaitDelivery && !(await delivery)) {
      throw new DomainError(ErrorCode.EmailSendFailed, 'The email with the code could not be sent; try again later');
    }
    return {
      codeGenerated: true,
      codeCount: Math.min(existing.count + 1, this.config.EMAIL_CODE_MAX_OUTSTANDING),
      codeExpires: issued.expiresAt,
      addresses,
    };
  }

  /**
   * `users.2fa.sendEmailCode`. By default the lookup and the mail happen after the answer, so an
   * unknown user gets the same answer in the same time as a known one. The legacy mode
   * (COMPAT_SEND_EMAIL_CODE_REVEALS_USER) answers as Rocket.Chat did: the addresses, or an error.
   */
  async requestEmailCode(emailOrUsername: string, client: ClientInfo): Promise<{ revealed: boolean; addresses: string[] }> {
    const send = async () => {
      const user = await this.users.findByUsernameOrEmail(emailOrUsername);
      if (!user) return null;
      return (await this.sendEmailCode(user, { awaitDelivery: false, client })).addresses;
    };
    if (!this.config.COMPAT_SEND_EMAIL_CODE_REVEALS_USER) {
      runDetached(this.logger, 'Sending a requested email code', send);
      return { revealed: false, addresses: [] };
    }
    const addresses = await send();
    if (!addresses) throw new DomainError(ErrorCode.NoVerifiedEmail, 'Invalid user');
    return { revealed: true, addresses };
  }

  /** Registration's default (TWO_FACTOR_EMAIL_AUTO_OPT_IN): effective once the user has a verified address. */
  async enableEmailByDefault(manager: EntityManager, userId: string): Promise<void> {
    await manager.insert(TwoFactorMethod, { userId, method: 'email', status: 'enabled', changedAt: this.clock.now() });
  }

  /**
   * A change that hands the account over (a new email or password, deletion): a second factor
   * given with this very request, never the remember window. `password` (hex SHA-256, from the
   * request body) is checked too; for a user without a method it is the second factor itself,
   * counted like any other attempt, and a wrong one answers InvalidCredentials.
   */
  async confirmSensitiveChange(
    subject: TwoFactorSubject,
    request: { password?: string; attempt: TwoFactorAttempt; client: ClientInfo },
  ): Promise<void> {
    const { user } = subject;
    const { password, attempt, client } = request;
    const available = await this.availableMethods(user.id);
    if (available.length === 0 && password !== undefined && user.passwordHash) {
      const outcome = await this.verifySecondFactor(user, 'password', password, client);
      await this.audit.record({
        userId: user.id,
        type: outcome.verified ? 'second_factor_verified' : 'second_factor_failed',
        outcome: outcome.verified ? 'success' : 'failure',
        method: 'password',
        client,
      });
      if (!outcome.verified) throw new DomainError(ErrorCode.InvalidCredentials, 'Invalid password');
      return;
    }
    await this.check(subject, attempt, client, { rememberable: false, passwordFallback: true });
    if (password !== undefined && !(await this.passwords.verifyDigest(user.passwordHash, password))) {
      throw new DomainError(ErrorCode.InvalidCredentials, 'Invalid password');
    }
  }

  async enableEmail(user: User, keepSessionId: string, client: ClientInfo): Promise<void> {
    const addresses = await this.users.verifiedAddresses(user.id);
    if (addresses.length === 0) {
      throw new DomainError(ErrorCode.NoVerifiedEmail, 'You need a verified email to enable 2FA by email');
    }
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `INSERT INTO two_factor_methods (user_id, method, status, changed_at) VALUES ($1, 'email', 'enabled', $2)
         ON CONFLICT (user_id, method) DO UPDATE SET status = 'enabled', changed_at = $2`,
        [user.id, this.clock.now()],
      );
      await this.audit.record({ userId: user.id, type: 'method_enabled', outcome: 'success', method: 'email', client }, manager);
      // A new second factor must not leave sessions opened without it behind.
      await this.sessions.revokeOtherLoginSessions(user.id, keepSessionId, manager);
    });
  }

  async disableEmail(user: User, client: ClientInfo): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.assertMayDisable(manager, user, 'email');
      await this.audit.record({ userId: user.id, type: 'method_disabled', outcome: 'success', method: 'email', client }, manager);
      await manager.delete(TwoFactorMethod, { userId: user.id, method: 'email' });
      await this.codes.invalidateAll(user.id, HANDSHAKE_PURPOSE, manager);
    });
  }

  /** `users.2fa.enableTOTP`: a new secret, pending until confirmed with a code (enableTotp). */
  beginTotpSetup(user: User): Promise<TotpSetup> {
    return this.totp.beginSetup(user);
  }

  /**
   * `users.2fa.validateTOTP`: turns the pending TOTP on when `code` is right and returns fresh
   * backup codes (shown once). Like enableEmail, ends every other login session of the user.
   */
  async enableTotp(user: User, code: string, keepSessionId: string, client: ClientInfo): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      await this.totp.confirm(manager, user.id, code);
      const backupCodes = await this.backupCodes.regenerate(manager, user.id);
      await this.audit.record({ userId: user.id, type: 'method_enabled', outcome: 'success', method: 'totp', client }, manager);
      await this.sessions.revokeOtherLoginSessions(user.id, keepSessionId, manager);
      return backupCodes;
    });
  }

  /** `users.2fa.disableTOTP`: removes TOTP (enabled or pending) and the backup codes. */
  async disableTotp(user: User, client: ClientInfo): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.assertMayDisable(manager, user, 'totp');
      const wasEnabled = await this.totp.remove(manager, user.id);
      await this.backupCodes.deleteAll(manager, user.id);
      if (wasEnabled) {
        await this.audit.record(
          { userId: user.id, type: 'method_disabled', outcome: 'success', method: 'totp', client },
          manager,
        );
      }
    });
  }

  /** Replaces every backup code of a TOTP user; TotpNotEnabled otherwise. */
  async regenerateBackupCodes(user: User, client: ClientInfo): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      // FOR SHARE: a parallel disableTotp waits, so no codes outlive the method.
      const enabled: unknown[] = await manager.query(
        `SELECT id FROM two_factor_methods WHERE user_id = $1 AND method = 'totp' AND status = 'enabled' FOR SHARE`,
        [user.id],
      );
      if (enabled.length === 0) throw new DomainError(ErrorCode.TotpNotEnabled, 'TOTP is not enabled');
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

  /**
   * The `totp` method's check: an authenticator code (±1 step, each step once) or an unused backup
   * code, then used up. Counts nothing: callers go through `verify` (the handshake, challenges).
   */
  async verifyTotpOrBackupCode(user: User, code: string, db: EntityManager = this.dataSource.manager): Promise<boolean> {
    if (normalizeTotpCode(code)) return this.totp.verify(user.id, code, db);
    return this.backupCodes.consume(user.id, code, db);
  }

  /**
   * TWO_FACTOR_REQUIRED_ROLES: a user holding such a role keeps at least one second factor. Runs
   * in the disabling transaction with the user's row locked, so two parallel disables of the two
   * last methods cannot both pass.
   */
  private async assertMayDisable(manager: EntityManager, user: User, method: 'email' | 'totp'): Promise<void> {
    const requiredRoles = this.config.TWO_FACTOR_REQUIRED_ROLES;
    if (!user.roles.some((role) => requiredRoles.includes(role))) return;
    // NO KEY UPDATE: serialises the disables without blocking inserts that reference the user.
    await manager.query(`SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE`, [user.id]);
    const available = await this.availableMethods(user.id, manager);
    if (available.includes(method) && available.every((other) => other === method)) {
      throw new DomainError(
        ErrorCode.TwoFactorRequiredByPolicy,
        'Your role requires two-factor authentication: enable another method before switching this one off',
      );
    }
  }

  /** The `details` clients need to ask the user for the right thing. */
  private async describe(
    user: User,
    method: SecondFactorMethod,
    available: SecondFactorMethod[],
    options: { send: boolean; client: ClientInfo },
  ): Promise<TwoFactorChallengeDetails> {
    const addresses = await this.users.verifiedAddresses(user.id);
    const details: TwoFactorChallengeDetails = {
      method,
      codeGenerated: false,
      emailOrUsername: addresses[0] ?? user.username,
      availableMethods: available,
    };
    if (method !== 'email') return details;
    if (options.send) {
      const sent = await this.sendEmailCode(user, { awaitDelivery: true, client: options.client });
      details.codeGenerated = sent.codeGenerated;
      if (!sent.codeGenerated) {
        details.codeCount = sent.codeCount;
        if (sent.codeExpires) details.codeExpires = sent.codeExpires.toISOString();
      }
    }
    return details;
  }

  /** The method the client named (default: the one offered), if the user may use it. */
  private resolveMethod(requested: string | null | undefined, available: SecondFactorMethod[]): SecondFactorMethod | null {
    // The password stands in only when no real second factor is enabled.
    const allowed: SecondFactorMethod[] = available.length > 0 ? available : ['password'];
    const method = requested?.trim().toLowerCase() || allowed[0];
    return allowed.find((candidate) => candidate === method) ?? null;
  }

  private async verify(user: User, method: SecondFactorMethod, code: string, db: EntityManager): Promise<boolean> {
    switch (method) {
      case 'email':
        return this.codes.consume(user.id, HANDSHAKE_PURPOSE, code, db);
      case 'password':
        return this.passwords.verifyDigest(user.passwordHash, code);
      case 'totp':
        // The authenticator code or a backup code.
        return this.verifyTotpOrBackupCode(user, code, db);
    }
  }
}
