import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { SessionsService } from '../auth/sessions.service.js';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { DomainEvents } from '../common/domain-events.js';
import { AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.js';
import type { Session } from '../auth/session.entity.js';
import { type AccountSnapshot, verifiedAddressesOf } from '../users/account-snapshot.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { EmailCodeSender, type SendOptions } from './email-code-sender.service.js';
import { EmailCodesService, SECOND_FACTOR_PURPOSE } from './email-codes.service.js';
import { BackupCodesRepository } from './repositories/backup-codes.repository.js';
import { type MethodFacts, TwoFactorMethodsRepository } from './repositories/two-factor-methods.repository.js';
import { SecondFactorFailuresService } from './second-factor-failures.service.js';
import {
  SECOND_FACTOR_STRATEGIES,
  type SecondFactorStrategy,
  type StrategyVerdict,
} from './strategies/second-factor.strategy.js';
import { TwoFactorError } from './two-factor.error.js';
import {
  type ClientInfo,
  ENABLEABLE_METHODS,
  type EnableableMethod,
  type SecondFactorMethod,
  type TwoFactorAttempt,
  type TwoFactorCheckOptions,
  type TwoFactorOutcome,
  type TwoFactorState,
  type TwoFactorSubject,
} from './two-factor.types.js';

/** One second factor checked outside the handshake (see verifySecondFactor). */
export interface SecondFactorVerification {
  verdict: StrategyVerdict;
  /** EMAIL_CODE_MAX_ATTEMPTS wrong codes: the outstanding email codes died (or this code was refused unchecked). */
  maxAttemptsReached: boolean;
  /** Set when this failure locked the account. */
  lockedUntil: Date | null;
}

/** Binds a remembered second factor to one client: user agent and address. */
export const clientFingerprint = (client: ClientInfo): string =>
  createHash('sha256').update(`${client.userAgent}\n${client.ip}`).digest('hex');

/** Which method a handshake asks for: Rocket.Chat's "first enabled of totp, email", or the user's preference. */
export type MethodOffer = 'first-enabled' | 'preferred';

/**
 * The second-factor handshake and its rules: which methods a user may use, attempts counted before
 * each check, the account lockout, single use, the remember window. It answers in neutral terms
 * (TwoFactorError with a TwoFactorState); each REST surface words them its own way.
 */
@Injectable()
export class TwoFactorService {
  private readonly strategies: ReadonlyMap<SecondFactorMethod, SecondFactorStrategy>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly methods: TwoFactorMethodsRepository,
    private readonly backupCodes: BackupCodesRepository,
    private readonly codes: EmailCodesService,
    private readonly sender: EmailCodeSender,
    private readonly failures: SecondFactorFailuresService,
    private readonly audit: AuditService,
    private readonly events: DomainEvents,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(SECOND_FACTOR_STRATEGIES) strategies: SecondFactorStrategy[],
    private readonly metrics: Metrics,
  ) {
    this.strategies = new Map(strategies.map((strategy) => [strategy.method, strategy]));
  }

  /** Enabled methods in the order they are offered: totp, then email (once an address is verified). */
  async availableMethods(userId: string, db: EntityManager = this.dataSource.manager): Promise<EnableableMethod[]> {
    return this.available(await this.methods.enabled(userId, db));
  }

  /** The rule, on facts read elsewhere. */
  available(facts: MethodFacts): EnableableMethod[] {
    return ENABLEABLE_METHODS.filter(
      (method) => facts.enabled.includes(method) && (method !== 'email' || facts.hasVerifiedEmail),
    );
  }

  /** The rule, on an account snapshot (read with the user: no query). */
  availableIn(snapshot: AccountSnapshot): EnableableMethod[] {
    return this.available({
      enabled: snapshot.enabledMethods,
      hasVerifiedEmail: snapshot.emails.some((email) => email.verifiedAt !== null),
    });
  }

  /** The method to ask a user for: their preference when they have it (and asked to), else the first enabled. */
  offeredMethod(user: User, available: EnableableMethod[], offer: MethodOffer = 'first-enabled'): SecondFactorMethod {
    const preferred = user.preferredTwoFactorMethod;
    if (offer === 'preferred' && preferred && available.includes(preferred)) return preferred;
    return available[0] ?? 'password';
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

  /** Until when the user's second factor is locked; null when it is not. */
  lockedUntil(userId: string): Promise<Date | null> {
    return this.failures.lockedUntil(userId);
  }

  rememberUntil(): Date {
    return addSeconds(this.clock.now(), this.config.REMEMBER_2FA_SECONDS);
  }

  /**
   * The handshake. Without a code: TwoFactorRequired (mailing a code for the email method). With a
   * wrong code: TwoFactorInvalid (TwoFactorCodeExpired for a late one), TwoFactorMaxAttempts once
   * too many, TwoFactorLocked while locked. A right code is used up and, on a login session,
   * remembered for REMEMBER_2FA_SECONDS for this client.
   */
  async check(
    subject: TwoFactorSubject,
    attempt: TwoFactorAttempt,
    client: ClientInfo,
    options: TwoFactorCheckOptions & { offer?: MethodOffer; locale?: string | null },
  ): Promise<TwoFactorOutcome> {
    const { user, session, snapshot } = subject;
    if (session?.bypassTwoFactor) return 'bypassed';
    if (options.rememberable && this.isRemembered(session, client)) return 'remembered';

    const available = snapshot ? this.availableIn(snapshot) : await this.availableMethods(user.id);
    if (available.length === 0 && (!options.passwordFallback || !user.passwordHash)) return 'not-required';
    const offered = this.offeredMethod(user, available, options.offer);
    const code = attempt.code?.trim();
    const addresses = snapshot && verifiedAddressesOf(snapshot);
    const state = (method: SecondFactorMethod, send = false) =>
      this.state(user, method, available, {
        client,
        locale: options.locale,
        send: send ? { as: ErrorCode.EmailSendFailed } : undefined,
        addresses,
      });

    // Checked before anything else: a locked account neither gets codes mailed nor has them checked.
    const lockedUntil = await this.failures.lockedUntil(user.id);
    if (lockedUntil) {
      // A code sent to a locked account is an attempt refused unchecked; without one, nothing was tried.
      if (code) this.metrics.secondFactorVerified(this.acceptedMethod(attempt.method ?? offered, available) ?? offered, 'locked');
      throw this.lockedError({ ...(await state(offered)), lockedUntil });
    }

    if (!code) throw new TwoFactorError(ErrorCode.TwoFactorRequired, 'TOTP Required', await state(offered, true));

    const method = this.acceptedMethod(attempt.method ?? offered, available);
    if (!method) throw new TwoFactorError(ErrorCode.TwoFactorInvalid, 'TOTP Invalid', await state(offered));

    const result = await this.attempt(user, method, code, client);
    if (result.refusedLockedUntil) throw this.lockedError({ ...(await state(offered)), lockedUntil: result.refusedLockedUntil });
    if (result.verdict === 'verified') {
      await this.audit.record({ userId: user.id, type: 'second_factor_verified', outcome: 'success', method, client });
      if (session?.kind === 'login') {
        await this.sessions.rememberTwoFactor(session.id, clientFingerprint(client), this.rememberUntil());
      }
      return 'verified';
    }
    await this.audit.record({ userId: user.id, type: 'second_factor_failed', outcome: 'failure', method, client });
    const failed = await state(method);
    if (result.maxAttemptsReached)
      throw new TwoFactorError(ErrorCode.TwoFactorMaxAttempts, 'Too many wrong codes; request a new one', failed);
    if (result.verdict === 'expired') throw new TwoFactorError(ErrorCode.TwoFactorCodeExpired, 'The code has expired', failed);
    throw new TwoFactorError(ErrorCode.TwoFactorInvalid, 'TOTP Invalid', failed);
  }

  /**
   * One second factor checked outside the handshake (a challenge). A right code is used up and
   * clears the failure counters; a wrong one counts towards EMAIL_CODE_MAX_ATTEMPTS (then the
   * outstanding email codes die) and the account lockout (recorded here). Nothing is remembered on
   * a session, and the attempt's own audit event is the caller's: it knows what the code was for.
   * Throws TwoFactorLocked (a plain DomainError with details.lockedUntil) while the account is locked.
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
    if (refusedLockedUntil) {
      throw new DomainError(ErrorCode.TwoFactorLocked, 'Too many failed attempts; try again later', {
        lockedUntil: refusedLockedUntil.toISOString(),
      });
    }
    return outcome;
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
      const verified = outcome.verdict === 'verified';
      await this.audit.record({
        userId: user.id,
        type: verified ? 'second_factor_verified' : 'second_factor_failed',
        outcome: verified ? 'success' : 'failure',
        method: 'password',
        client,
      });
      if (!verified) throw new DomainError(ErrorCode.InvalidCredentials, 'Invalid password');
      return;
    }
    await this.check(subject, attempt, client, { rememberable: false, passwordFallback: true });
    if (
      password !== undefined &&
      (await this.strategy('password').verify(user, password, this.dataSource.manager)) !== 'verified'
    ) {
      throw new DomainError(ErrorCode.InvalidCredentials, 'Invalid password');
    }
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

  /**
   * Where the user's second factor stands. `send`: for the email method, mail a code now (unless
   * one went out within EMAIL_CODE_RESEND_AFTER_SECONDS) and wait for the first attempt, failing
   * as `send.as` if it did not go out. Callers send only once they have found the user not locked.
   */
  async state(
    user: User,
    method: SecondFactorMethod,
    available: EnableableMethod[],
    options: {
      client: ClientInfo;
      locale?: string | null;
      send?: Required<SendOptions>['awaitDelivery'];
      /** The verified addresses, when the caller has them (from an account snapshot). */
      addresses?: string[];
    },
  ): Promise<TwoFactorState> {
    const addresses = options.addresses ?? (await this.users.verifiedAddresses(user.id));
    const state: TwoFactorState = { method, available, addresses, username: user.username };
    if (method === 'email') {
      state.email = options.send
        ? await this.sender.send(user, {
            client: options.client,
            locale: options.locale,
            awaitDelivery: options.send,
            checked: { addresses },
          })
        : await this.sender.status(user.id);
    }
    return state;
  }

  private lockedError(state: TwoFactorState): TwoFactorError {
    return new TwoFactorError(ErrorCode.TwoFactorLocked, 'Too many failed attempts; try again later', state);
  }

  /**
   * The method a client may use: one they have; a backup code when they have TOTP; the password
   * only when they have no method at all.
   */
  private acceptedMethod(requested: string, available: EnableableMethod[]): SecondFactorMethod | null {
    if (available.length === 0) return requested === 'password' ? 'password' : null;
    if (requested === 'backup') return available.includes('totp') ? 'backup' : null;
    return available.find((method) => method === requested) ?? null;
  }

  private strategy(method: SecondFactorMethod): SecondFactorStrategy {
    const strategy = this.strategies.get(method);
    if (!strategy) throw new Error(`No strategy for the ${method} method`);
    return strategy;
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
    const reservation = await this.failures.reserve(user.id, SECOND_FACTOR_PURPOSE, db);
    if (reservation.refused === 'locked') {
      this.metrics.secondFactorVerified(method, 'locked');
      return { verdict: 'invalid', maxAttemptsReached: false, lockedUntil: null, refusedLockedUntil: reservation.lockedUntil };
    }
    if (reservation.refused === 'exhausted') {
      this.metrics.secondFactorVerified(method, 'exhausted');
      return { verdict: 'invalid', maxAttemptsReached: true, lockedUntil: null };
    }
    const verdict = await this.strategy(method).verify(user, code, db);
    this.metrics.secondFactorVerified(method, verdict === 'verified' ? 'success' : verdict);
    if (verdict === 'verified') {
      await this.failures.settleSuccess(user.id, SECOND_FACTOR_PURPOSE, db);
      if (method === 'backup') {
        // The owner hears of it: a recovery code used by someone else means the codes leaked.
        const remaining = await this.backupCodes.countUnused(user.id, db);
        await this.events.publish({ type: 'recovery-code-used', user, remaining, client }, db);
      }
      return { verdict, maxAttemptsReached: false, lockedUntil: null };
    }
    const outcome = await this.failures.settleFailure(user.id, SECOND_FACTOR_PURPOSE, reservation, db);
    if (outcome.lockedUntil) {
      await this.audit.record({ userId: user.id, type: 'lockout', outcome: 'failure', method, client }, db);
      this.metrics.lockedOut();
    }
    if (outcome.maxAttemptsReached) await this.codes.invalidateAll(user.id, SECOND_FACTOR_PURPOSE, db);
    return { verdict, ...outcome };
  }
}
