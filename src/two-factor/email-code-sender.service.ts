import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { runDetached } from '../common/run-detached.js';
import { AppConfig } from '../config/app-config.js';
import { MailService } from '../mail/mail.service.js';
import { Metrics } from '../metrics/metrics.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { EmailCodesService, formatEmailCode, SECOND_FACTOR_PURPOSE } from './email-codes.service.js';
import { SecondFactorFailuresService } from './second-factor-failures.service.js';
import type { ClientInfo, EmailCodeDelivery } from './two-factor.types.js';

export interface SendOptions {
  client: ClientInfo;
  /**
   * Wait for the first delivery attempt and fail if it did not go out (the message stays queued
   * for the worker). `as` says what failed: the request's own purpose (EmailSendFailed), or the
   * mail that follows a committed change (PostCommitSideEffectFailed).
   */
  awaitDelivery?: { as: ErrorCode.EmailSendFailed | ErrorCode.PostCommitSideEffectFailed };
  /** An explicit request for a new code: sent even inside the resend window. */
  fresh?: boolean;
  /** Inside the resend window, refuse (EmailCooldownActive, with the seconds left) instead of skipping quietly. */
  enforceCooldown?: boolean;
  /** The mail's language when the request names one (else the user's, else DEFAULT_LOCALE). */
  locale?: string | null;
  /**
   * The caller has just found the user not locked and read these verified addresses, in this same
   * request (the handshake and the logins do both before they send): neither is read again.
   */
  checked?: { addresses: string[] };
}

/**
 * Mails second-factor codes to every verified address of a user. Inside
 * EMAIL_CODE_RESEND_AFTER_SECONDS of the newest valid code nothing is sent (unless asked for a
 * fresh one); a locked account gets no code, whoever asks.
 */
@Injectable()
export class EmailCodeSender {
  private readonly logger = new Logger('TwoFactor');

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly codes: EmailCodesService,
    private readonly failures: SecondFactorFailuresService,
    private readonly mail: MailService,
    private readonly audit: AuditService,
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  /** Where the user's codes stand: how many are valid, until when, and the cooldown left. */
  async status(userId: string, db?: EntityManager): Promise<EmailCodeDelivery> {
    const outstanding = await this.codes.outstanding(userId, SECOND_FACTOR_PURPOSE, db);
    return {
      sent: false,
      outstanding: outstanding.count,
      expiresAt: outstanding.newestExpiresAt,
      cooldownSeconds: this.codes.cooldownSeconds(outstanding),
    };
  }

  /** Throws TwoFactorLocked's plain form while the account is locked. */
  async send(user: User, options: SendOptions): Promise<EmailCodeDelivery> {
    const addresses = options.checked?.addresses ?? (await this.unlockedAddresses(user));
    // The user's row is locked while the window is read and the code issued: of parallel requests
    // inside one window, one sends and the others see its code.
    const decision = await this.dataSource.transaction(async (manager) => {
      await this.users.lockForUpdate(manager, user.id);
      const before = await this.status(user.id, manager);
      if (addresses.length === 0) {
        if (options.enforceCooldown) throw new DomainError(ErrorCode.NoVerifiedEmail, 'The user has no verified email address');
        return { before };
      }
      if (options.enforceCooldown && before.cooldownSeconds > 0) {
        throw new DomainError(ErrorCode.EmailCooldownActive, `Wait ${before.cooldownSeconds} s before asking for another code`, {
          retryAfterSeconds: before.cooldownSeconds,
        });
      }
      if (!options.fresh && !options.enforceCooldown && before.cooldownSeconds > 0) return { before };
      const issued = await this.codes.issue(manager, user.id, SECOND_FACTOR_PURPOSE);
      const queued = await this.mail.enqueue(manager, {
        to: addresses,
        template: 'email-code',
        locale: options.locale ?? user.locale,
        data: {
          name: user.name || user.username,
          formattedCode: formatEmailCode(issued.code),
          purpose: SECOND_FACTOR_PURPOSE,
          ttlMinutes: Math.round(this.config.EMAIL_CODE_TTL_SECONDS / 60),
          // The outbox drops the message rather than deliver a dead code.
          expiresAt: issued.expiresAt.toISOString(),
        },
      });
      await this.audit.record(
        { userId: user.id, type: 'code_sent', outcome: 'success', method: 'email', client: options.client },
        manager,
      );
      return { before, sent: { expiresAt: issued.expiresAt, queued } };
    });
    if (!decision.sent) return decision.before;
    // Counted once the code and its message are committed; the delivery has counters of its own.
    this.metrics.codeSent('email');
    const { before } = decision;
    const { expiresAt, queued } = decision.sent;
    const delivery = this.mail.deliverNow([queued]);
    if (options.awaitDelivery && !(await delivery)) {
      throw new DomainError(options.awaitDelivery.as, 'The email with the code could not be sent; try again later');
    }
    return {
      sent: true,
      outstanding: Math.min(before.outstanding + 1, this.config.EMAIL_CODE_MAX_OUTSTANDING),
      expiresAt,
      cooldownSeconds: this.config.EMAIL_CODE_RESEND_AFTER_SECONDS,
    };
  }

  /** The user's verified addresses; TwoFactorLocked's plain form while the account is locked. */
  private async unlockedAddresses(user: User): Promise<string[]> {
    const lockedUntil = await this.failures.lockedUntil(user.id);
    if (lockedUntil) {
      throw new DomainError(ErrorCode.TwoFactorLocked, 'Too many failed attempts; try again later', {
        lockedUntil: lockedUntil.toISOString(),
      });
    }
    return this.users.verifiedAddresses(user.id);
  }

  /**
   * Rocket.Chat's `users.2fa.sendEmailCode`. By default the lookup and the mail happen after the
   * answer, so an unknown user gets the same answer in the same time as a known one. The legacy
   * mode (COMPAT_SEND_EMAIL_CODE_REVEALS_USER) answers as Rocket.Chat did: the addresses, or an error.
   */
  async requestFor(emailOrUsername: string, client: ClientInfo): Promise<{ revealed: boolean; addresses: string[] }> {
    const send = async () => {
      const user = await this.users.findByUsernameOrEmail(emailOrUsername);
      if (!user) return null;
      await this.send(user, { client });
      return this.users.verifiedAddresses(user.id);
    };
    if (!this.config.COMPAT_SEND_EMAIL_CODE_REVEALS_USER) {
      runDetached(this.logger, 'Sending a requested email code', send);
      return { revealed: false, addresses: [] };
    }
    const addresses = await send();
    if (!addresses) throw new DomainError(ErrorCode.NoVerifiedEmail, 'Invalid user');
    return { revealed: true, addresses };
  }
}
