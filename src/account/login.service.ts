import { Injectable } from '@nestjs/common';
import { PasswordService } from '../auth/password.service.js';
import { IssuedSession, SessionsService } from '../auth/sessions.service.js';
import { ChallengesService } from '../challenge/challenges.service.js';
import { DomainError, ErrorCode, isDomainError } from '../common/domain-error.js';
import { clientFingerprint, TwoFactorService } from '../two-factor/two-factor.service.js';
import type { ClientInfo, TwoFactorAttempt } from '../two-factor/two-factor.types.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';

/** Who is logging in: by username, by email, or either (an `@` makes it an email). */
export type LoginIdentifier = { username: string } | { email: string } | { usernameOrEmail: string };

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

@Injectable()
export class LoginService {
  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly sessions: SessionsService,
    private readonly twoFactor: TwoFactorService,
    private readonly challenges: ChallengesService,
  ) {}

  /**
   * Password first, then the second factor if the user has one. A login finished with a second
   * factor starts a session that counts as 2FA-authorized for this client.
   */
  async loginWithPassword(input: PasswordLogin, client: ClientInfo): Promise<LoggedIn> {
    const user = await this.findUser(input.identifier);
    const hash = user?.passwordHash ?? null;
    // Both checks spend the same time for an unknown user as for a wrong password.
    const passwordOk =
      'plain' in input.password
        ? await this.passwords.verify(hash, input.password.plain)
        : await this.passwords.verifyDigest(hash, input.password.digest);
    if (!user || !passwordOk) throw new DomainError(ErrorCode.InvalidCredentials, 'Unauthorized');

    const outcome = await this.twoFactor
      .check({ user, session: null }, input.secondFactor, client, { rememberable: false, passwordFallback: false })
      .catch((error: unknown) => this.withChallenge(error, user, client));
    const issued = await this.sessions.createLoginSession(
      user.id,
      outcome === 'verified' ? { fingerprint: clientFingerprint(client), until: this.twoFactor.rememberUntil() } : undefined,
    );
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
   * `twoFactorChallenges.verifyChallenge`: a login finished through its challenge. The session
   * counts as 2FA-authorized for the client that gave the code.
   */
  async loginWithChallenge(challengeId: string, code: string, client: ClientInfo): Promise<LoggedIn> {
    const { user } = await this.challenges.verify(challengeId, code, client, 'login');
    const issued = await this.sessions.createLoginSession(user.id, {
      fingerprint: clientFingerprint(client),
      until: this.twoFactor.rememberUntil(),
    });
    return { ...issued, user };
  }

  logout(sessionId: string): Promise<void> {
    return this.sessions.revoke(sessionId);
  }

  private findUser(identifier: LoginIdentifier): Promise<User | null> {
    if ('username' in identifier) return this.users.findByUsername(identifier.username);
    if ('email' in identifier) return this.users.findByEmail(identifier.email);
    return this.users.findByUsernameOrEmail(identifier.usernameOrEmail);
  }

  /**
   * A login that needs a second factor becomes a challenge: TwoFactorRequired goes back to the
   * client with `details.challengeId` added (the email code, if any, was mailed by the handshake).
   * Every other error passes unchanged.
   */
  private async withChallenge(error: unknown, user: User, client: ClientInfo): Promise<never> {
    if (!isDomainError(error) || error.code !== ErrorCode.TwoFactorRequired || Array.isArray(error.details)) throw error;
    const details = error.details as Record<string, unknown> | undefined;
    const method = details?.method;
    if (method !== 'email' && method !== 'totp') throw error;
    const challenge = await this.challenges.create(user, 'login', method, client);
    throw new DomainError(error.code, error.message, { ...details, challengeId: challenge.id });
  }
}
