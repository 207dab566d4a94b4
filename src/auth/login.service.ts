import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/domain-error.js';
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

    const outcome = await this.twoFactor.check({ user, session: null }, input.secondFactor, client, {
      rememberable: false,
      passwordFallback: false,
    });
    const issued = await this.sessions.createLoginSession(
      user.id,
      outcome === 'verified' ? { fingerprint: clientFingerprint(client), until: this.twoFactor.rememberUntil() } : undefined,
    );
    return { ...issued, user };
  }

  logout(sessionId: string): Promise<void> {
    return this.sessions.revoke(sessionId);
  }
}
