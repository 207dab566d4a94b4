import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PasswordService } from '../auth/password.service.js';
import type { Session } from '../auth/session.entity.js';
import { IssuedSession, type SessionOrigin, SessionsService } from '../auth/sessions.service.js';
import type { Challenge } from '../challenge/challenge.entity.js';
import { ChallengesService } from '../challenge/challenges.service.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { DomainEvents } from '../common/domain-events.js';
import { isTwoFactorError, TwoFactorError } from '../two-factor/two-factor.error.js';
import { clientFingerprint, TwoFactorService } from '../two-factor/two-factor.service.js';
import type { ClientInfo, EnableableMethod, TwoFactorAttempt, TwoFactorState } from '../two-factor/two-factor.types.js';
import type { User } from '../users/user.entity.js';
import { type UserAccount, verifiedAddressesOf } from '../users/account-snapshot.js';
import { type UserIdentifier, UsersService } from '../users/users.service.js';

/** Who is logging in: by username, by email, or either (an `@` makes it an email). */
export type LoginIdentifier = UserIdentifier;

/** The password as typed, or its hex SHA-256 as Meteor clients send it. */
export type PasswordProof = { plain: string } | { digest: string };

export interface PasswordLogin {
  identifier: LoginIdentifier;
  password: PasswordProof;
  secondFactor: TwoFactorAttempt;
}

export interface LoggedIn extends IssuedSession {
  user: User;
}

/** Surface 2's first login step: in, or a second factor to give first. */
export type TokenLoginStart =
  | ({ status: 'logged-in' } & LoggedIn)
  | { status: 'second-factor-required'; user: User; challenge: Challenge; state: TwoFactorState };

/** A request's context: where it comes from, and the language of any mail it causes. */
export interface LoginContext {
  client: ClientInfo;
  origin: SessionOrigin;
  locale?: string | null;
}

/**
 * Logging in: the password first, then the second factor if the user has one. Surface 1 answers
 * the second factor in the same request (the handshake) or through a challenge; surface 2 always
 * goes through a challenge (its two-factor token names it). A password login without a second
 * factor from a device the user never used announces itself (a `new-device-login` event).
 */
@Injectable()
export class LoginService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly sessions: SessionsService,
    private readonly twoFactor: TwoFactorService,
    private readonly challenges: ChallengesService,
    private readonly events: DomainEvents,
  ) {}

  /**
   * The user and their addresses and methods (read together: the second factor needs them next),
   * when the password is theirs; InvalidCredentials otherwise (the same time either way).
   */
  async verifyPassword(identifier: LoginIdentifier, password: PasswordProof): Promise<UserAccount> {
    const account = await this.users.findAccount(identifier);
    const hash = account?.user.passwordHash ?? null;
    const passwordOk =
      'plain' in password
        ? await this.passwords.verify(hash, password.plain)
        : await this.passwords.verifyDigest(hash, password.digest);
    if (!account || !passwordOk) throw new DomainError(ErrorCode.InvalidCredentials, 'Unauthorized');
    return account;
  }

  /**
   * Surface 1: a login finished with a second factor starts a session that counts as
   * 2FA-authorized for this client. One that needs a second factor answers TwoFactorRequired
   * with a challenge (its id in the state) the client may finish instead.
   */
  async loginWithPassword(input: PasswordLogin, context: LoginContext): Promise<LoggedIn> {
    const { user, snapshot } = await this.verifyPassword(input.identifier, input.password);
    const outcome = await this.twoFactor
      .check({ user, session: null, snapshot }, input.secondFactor, context.client, {
        rememberable: false,
        passwordFallback: false,
      })
      .catch((error: unknown) => this.withChallenge(error, user, context.client));
    const issued = await this.sessions.createLoginSession(
      user.id,
      outcome === 'verified'
        ? { fingerprint: clientFingerprint(context.client), until: this.twoFactor.rememberUntil() }
        : undefined,
      context.origin,
    );
    if (outcome === 'not-required') await this.announceIfNewDevice(user, issued.session, context);
    return { ...issued, user };
  }

  /**
   * Meteor's resume login: the authToken of a live login session logs in again, answering with
   * that same session and token. It was issued after every factor the user had, so none is asked.
   */
  async loginWithResumeToken(token: string): Promise<LoggedIn> {
    const found = await this.sessions.authenticateToken(token);
    // Personal access tokens are used as X-Auth-Token, not traded for a login.
    if (!found || found.session.kind !== 'login') throw new DomainError(ErrorCode.InvalidCredentials, 'Unauthorized');
    return { user: found.user, session: found.session, token };
  }

  /**
   * Surface 1's `twoFactorChallenges.verifyChallenge`: a login finished through its challenge. The
   * session counts as 2FA-authorized for the client that gave the code.
   */
  async loginWithChallenge(
    challengeId: string,
    attempt: TwoFactorAttempt & { code: string },
    context: LoginContext,
  ): Promise<LoggedIn> {
    const { verified, result: issued } = await this.challenges.verifyThen(
      challengeId,
      attempt,
      context.client,
      'login',
      {},
      ({ user }, db) =>
        this.sessions.createLoginSession(
          user.id,
          { fingerprint: clientFingerprint(context.client), until: this.twoFactor.rememberUntil() },
          context.origin,
          db,
        ),
    );
    return { ...issued, user: verified.user };
  }

  /**
   * Surface 2's login. Without a method: a session at once. With one: a challenge for the
   * preferred method, whose code is mailed now when that method is email (a mail that cannot go
   * out answers PostCommitSideEffectFailed; it stays queued).
   */
  async startTokenLogin(identifier: LoginIdentifier, password: PasswordProof, context: LoginContext): Promise<TokenLoginStart> {
    const { user, snapshot } = await this.verifyPassword(identifier, password);
    const available = this.twoFactor.availableIn(snapshot);
    if (available.length === 0) {
      const issued = await this.sessions.createTokenSession(user.id, context.origin);
      await this.announceIfNewDevice(user, issued.session, context);
      return { status: 'logged-in', user, ...issued };
    }
    const addresses = verifiedAddressesOf(snapshot);
    const lockedUntil = await this.twoFactor.lockedUntil(user.id);
    if (lockedUntil) {
      const state = await this.twoFactor.state(user, this.twoFactor.offeredMethod(user, available, 'preferred'), available, {
        client: context.client,
        addresses,
      });
      throw new TwoFactorError(ErrorCode.TwoFactorLocked, 'Too many failed attempts; try again later', { ...state, lockedUntil });
    }
    const method = this.twoFactor.offeredMethod(user, available, 'preferred') as EnableableMethod;
    const challenge = await this.challenges.create(user, { purpose: 'login', method, client: context.client });
    const state = await this.twoFactor.state(user, method, available, {
      client: context.client,
      locale: context.locale,
      send: { as: ErrorCode.PostCommitSideEffectFailed },
      addresses,
    });
    return { status: 'second-factor-required', user, challenge, state: { ...state, challengeId: challenge.id } };
  }

  /**
   * Surface 2's `2fa/login` and `2fa/totp/recover`: the challenge of `userId` (whom its token names)
   * finished, a session opened.
   */
  async finishTokenLogin(
    challengeId: string,
    userId: string,
    attempt: TwoFactorAttempt & { code: string },
    context: LoginContext,
  ): Promise<LoggedIn> {
    const { verified, result: issued } = await this.challenges.verifyThen(
      challengeId,
      attempt,
      context.client,
      'login',
      { userId },
      ({ user }, db) => this.sessions.createTokenSession(user.id, context.origin, db),
    );
    return { ...issued, user: verified.user };
  }

  logout(sessionId: string): Promise<void> {
    return this.sessions.revoke(sessionId);
  }

  /** A password-only login from a user agent the user never logged in with before. */
  private async announceIfNewDevice(user: User, session: Session, context: LoginContext): Promise<void> {
    if (await this.sessions.isKnownDevice(session)) return;
    await this.events.publish(
      {
        type: 'new-device-login',
        user,
        client: context.client,
        device: { browser: session.browser ?? '', os: session.os ?? '' },
        locale: context.locale,
      },
      this.dataSource.manager,
    );
  }

  /**
   * A login that needs a second factor becomes a challenge: TwoFactorRequired goes back to the
   * client with the challenge's id added (the email code, if any, was mailed by the handshake).
   * Every other error passes unchanged.
   */
  private async withChallenge(error: unknown, user: User, client: ClientInfo): Promise<never> {
    if (!isTwoFactorError(error) || error.code !== ErrorCode.TwoFactorRequired) throw error;
    const { method } = error.state;
    if (method !== 'email' && method !== 'totp') throw error;
    const challenge = await this.challenges.create(user, { purpose: 'login', method, client });
    throw new TwoFactorError(ErrorCode.TwoFactorRequired, error.message, { ...error.state, challengeId: challenge.id });
  }
}
