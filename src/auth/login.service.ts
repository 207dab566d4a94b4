import { Injectable } from '@nestjs/common';
import { ChallengesService } from '../challenge/challenges.service.js';
import { DomainError, ErrorCode, isDomainError } from '../common/domain-error.js';
import { clientFingerprint, TwoFactorService } from '../two-factor/two-factor.service.js';
import type { ClientInfo, TwoFactorAttempt } from '../two-factor/two-factor.types.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { PasswordService } from './password.service.js';
import { IssuedSession, SessionsService } from './sessions.service.js';

export interface PasswordLogin {
  /** Username or email address. */
  identifier: string;
  password: string;
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
    const user = await this.users.findByUsernameOrEmail(input.identifier);
    // verify() spends the same time for an unknown user as for a wrong password.
    const passwordOk = await this.passwords.verify(user?.passwordHash ?? null, input.password);
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

  /**
   * A login that needs a second factor becomes a challenge: TwoFactorRequired goes back to the
   * client with `details.challengeId` added (the email code, if any, was mailed by the handshake).
   * Every other error passes unchanged.
   */
  private async withChallenge(error: unknown, user: User, client: ClientInfo): Promise<never> {
    if (!isDomainError(error) || error.code !== ErrorCode.TwoFactorRequired) throw error;
    const method = error.details?.method;
    if (method !== 'email' && method !== 'totp') throw error;
    const challenge = await this.challenges.create(user, 'login', method, client);
    throw new DomainError(error.code, error.message, { ...error.details, challengeId: challenge.id });
  }

  logout(sessionId: string): Promise<void> {
    return this.sessions.revoke(sessionId);
  }
}
