import { Injectable } from '@nestjs/common';
import { PasswordService } from '../auth/password.service.js';
import type { AuthenticatedSession } from '../auth/sessions.service.js';
import type { Challenge } from '../challenge/challenge.entity.js';
import { ChallengesService } from '../challenge/challenges.service.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { TwoFactorError } from '../two-factor/two-factor.error.js';
import { TwoFactorService } from '../two-factor/two-factor.service.js';
import type { EnableableMethod, TwoFactorAttempt, TwoFactorState } from '../two-factor/two-factor.types.js';
import type { LoginContext } from './login.service.js';

export type StepUpStart =
  { status: 'stepped-up' } | { status: 'second-factor-required'; challenge: Challenge; state: TwoFactorState };

/**
 * Step-up: a logged-in user proves, again and now, that they are themselves before a sensitive
 * action: the password, then the second factor if they have one. The proof is bound to the user
 * and the session it was given in (surface 2 turns it into a step-up token).
 */
@Injectable()
export class StepUpService {
  constructor(
    private readonly passwords: PasswordService,
    private readonly twoFactor: TwoFactorService,
    private readonly challenges: ChallengesService,
  ) {}

  /**
   * The password of the session's user (NoPasswordProvider for a user without one;
   * InvalidCredentials when wrong). A user with a method then gets a challenge for the preferred
   * one, its code mailed now when that is email.
   */
  async start(subject: AuthenticatedSession, password: string, context: LoginContext): Promise<StepUpStart> {
    const { user, session } = subject;
    if (!user.passwordHash) throw new DomainError(ErrorCode.NoPasswordProvider, 'The user has no password');
    if (!(await this.passwords.verify(user.passwordHash, password)))
      throw new DomainError(ErrorCode.InvalidCredentials, 'Unauthorized');
    const available = await this.twoFactor.availableMethods(user.id);
    if (available.length === 0) return { status: 'stepped-up' };
    const method = this.twoFactor.offeredMethod(user, available, 'preferred') as EnableableMethod;
    const lockedUntil = await this.twoFactor.lockedUntil(user.id);
    if (lockedUntil) {
      const state = await this.twoFactor.state(user, method, available, { client: context.client });
      throw new TwoFactorError(ErrorCode.TwoFactorLocked, 'Too many failed attempts; try again later', { ...state, lockedUntil });
    }
    const challenge = await this.challenges.create(user, {
      purpose: 'step_up',
      method,
      client: context.client,
      sessionId: session.id,
    });
    const state = await this.twoFactor.state(user, method, available, {
      client: context.client,
      locale: context.locale,
      send: { as: ErrorCode.PostCommitSideEffectFailed },
    });
    return { status: 'second-factor-required', challenge, state: { ...state, challengeId: challenge.id } };
  }

  /** The step-up's second factor, for the challenge `start` opened in this very session. */
  async finish(
    subject: AuthenticatedSession,
    challengeId: string,
    attempt: TwoFactorAttempt & { code: string },
    context: LoginContext,
  ): Promise<void> {
    await this.challenges.verify(challengeId, attempt, context.client, 'step_up', {
      userId: subject.user.id,
      sessionId: subject.session.id,
    });
  }
}
