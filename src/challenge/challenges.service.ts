import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode, isDomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.js';
import { EmailCodeSender } from '../two-factor/email-code-sender.service.js';
import { TwoFactorService } from '../two-factor/two-factor.service.js';
import type { ClientInfo, SecondFactorMethod, TwoFactorAttempt } from '../two-factor/two-factor.types.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { Challenge, ChallengePurpose } from './challenge.entity.js';
import { ChallengesRepository } from './challenges.repository.js';

/** 32 random bytes, hex: anything else cannot be a challenge id (and needs no database round trip). */
export const CHALLENGE_ID_PATTERN = /^[0-9a-f]{64}$/;

export const newChallengeId = (): string => randomBytes(32).toString('hex');

export type ChallengeState = 'open' | 'completed' | 'expired';

/** Where a challenge stands at `now`. A completed one stays completed, even once past its expiry. */
export const challengeState = (challenge: Pick<Challenge, 'completedAt' | 'expiresAt'>, now: Date): ChallengeState => {
  if (challenge.completedAt) return 'completed';
  return challenge.expiresAt > now ? 'open' : 'expired';
};

/** What a challenge that cannot be used answers: a completed one is as gone as one that never existed. */
const unusable = (state: Exclude<ChallengeState, 'open'> | 'missing'): DomainError =>
  state === 'expired'
    ? new DomainError(ErrorCode.ChallengeExpired, 'challenge expired')
    : new DomainError(ErrorCode.ChallengeNotFound, 'challenge not found');

export interface VerifiedChallenge {
  user: User;
  challenge: Challenge;
}

export interface NewChallenge {
  purpose: ChallengePurpose;
  /** The method offered (an email challenge takes resends). */
  method: SecondFactorMethod;
  client: ClientInfo;
  /** A step-up challenge: the session it raises. */
  sessionId?: string | null;
}

/**
 * Pending second factors. A login (or a step-up) that needs one creates a challenge; the client
 * finishes it once with a right code (verify), asking for more email codes meanwhile if it likes
 * (sendEmailCode). Email codes are the user's, so a code mailed for the challenge also works for
 * the handshake, and the other way round; each is accepted once.
 */
@Injectable()
export class ChallengesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly challenges: ChallengesRepository,
    private readonly users: UsersService,
    private readonly twoFactor: TwoFactorService,
    private readonly sender: EmailCodeSender,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  /** A new challenge, valid CHALLENGE_TTL_SECONDS. The user's finished (completed or expired) challenges go. */
  async create(user: User, request: NewChallenge): Promise<Challenge> {
    const now = this.clock.now();
    const challenge = Object.assign(new Challenge(), {
      id: newChallengeId(),
      userId: user.id,
      purpose: request.purpose,
      method: request.method,
      expiresAt: addSeconds(now, this.config.CHALLENGE_TTL_SECONDS),
      failedAttempts: 0,
      completedAt: null,
      createdAt: now,
      ip: request.client.ip.slice(0, 64),
      userAgent: request.client.userAgent.slice(0, 512),
      sessionId: request.sessionId ?? null,
    } satisfies Challenge);
    await this.dataSource.transaction(async (manager) => {
      await this.challenges.replaceFinished(manager, challenge, now);
      await this.audit.record(
        { userId: user.id, type: 'challenge_created', outcome: 'success', method: request.method, client: request.client },
        manager,
      );
    });
    this.metrics.challengeOpened(challenge.purpose);
    return challenge;
  }

  /** An open challenge (ChallengeNotFound / ChallengeExpired otherwise) and its user. */
  async findOpen(challengeId: string, purpose?: ChallengePurpose): Promise<VerifiedChallenge> {
    if (!CHALLENGE_ID_PATTERN.test(challengeId)) throw unusable('missing');
    const challenge = await this.challenges.find(challengeId, purpose);
    if (!challenge) throw unusable('missing');
    const state = challengeState(challenge, this.clock.now());
    if (state !== 'open') throw unusable(state);
    const user = await this.users.findById(challenge.userId);
    if (!user) throw new DomainError(ErrorCode.UserNotFound, 'user not found');
    return { user, challenge };
  }

  /**
   * Mails a fresh code for an open challenge of a user who has email 2FA (an explicit request: the
   * resend window does not apply; the route's rate limit and EMAIL_CODE_MAX_OUTSTANDING do). The
   * challenge's attempt count stays as it is, so resends buy no guesses. `emailChallengesOnly`
   * (Rocket.Chat's rule): refused for a challenge that offered another method.
   */
  async sendEmailCode(
    challengeId: string,
    client: ClientInfo,
    options: { purpose?: ChallengePurpose; emailChallengesOnly?: boolean; locale?: string | null; fresh?: boolean } = {},
  ): Promise<void> {
    const { user, challenge } = await this.findOpen(challengeId, options.purpose);
    if (options.emailChallengesOnly !== false && challenge.method !== 'email') {
      throw new DomainError(ErrorCode.InvalidChallengeMethod, 'invalid challenge method');
    }
    // Email 2FA switched off (or the address gone) since the challenge began.
    if (!(await this.twoFactor.availableMethods(user.id)).includes('email')) {
      throw new DomainError(ErrorCode.InvalidChallengeMethod, 'invalid challenge method');
    }
    // Refused while the account is locked (TwoFactorLocked), as every code send is.
    await this.sender.send(user, {
      client,
      fresh: options.fresh ?? true,
      locale: options.locale,
      awaitDelivery: { as: ErrorCode.EmailSendFailed },
    });
  }

  /**
   * Finishes an open challenge of `purpose` with a second factor: the method the attempt names (one
   * the user has; a backup code for a TOTP user), else the challenge's. Attempts on one challenge
   * take turns (its row is locked for the whole check, counts and use of the code included, all in
   * one transaction): the first right code completes it and every later attempt finds it
   * completed, so a right code always wins however many arrive at once, and wrong guesses get at
   * most EMAIL_CODE_MAX_ATTEMPTS checks; the last one deletes the challenge (TwoFactorMaxAttempts).
   * The user's failure counters and lockout apply as in the handshake. A wrong code is InvalidCode,
   * a late one TwoFactorCodeExpired.
   */
  async verify(
    challengeId: string,
    attempt: TwoFactorAttempt & { code: string },
    client: ClientInfo,
    purpose: ChallengePurpose = 'login',
    /** Whose it must be (a token names it): another user's or another session's is as good as none. */
    owner: { userId?: string; sessionId?: string } = {},
  ): Promise<VerifiedChallenge> {
    const { verified } = await this.verifyThen(challengeId, attempt, client, purpose, owner, async () => undefined);
    return verified;
  }

  /**
   * verify, and what the challenge was for (a login's session) done in the same transaction: the
   * code is used up, the challenge completed and `then` done together, or none of it (a failing
   * `then` leaves the code and challenge usable again).
   */
  async verifyThen<T>(
    challengeId: string,
    attempt: TwoFactorAttempt & { code: string },
    client: ClientInfo,
    purpose: ChallengePurpose,
    owner: { userId?: string; sessionId?: string },
    then: (verified: VerifiedChallenge, db: EntityManager) => Promise<T>,
  ): Promise<{ verified: VerifiedChallenge; result: T }> {
    if (!CHALLENGE_ID_PATTERN.test(challengeId)) throw unusable('missing');
    // Refusals are returned rather than thrown inside, so the counts they made still commit.
    const outcome = await this.dataSource.transaction(
      async (manager): Promise<{ verified: VerifiedChallenge; result: T } | { refused: DomainError }> => {
        const found = await this.challenges.findWithUserForUpdate(manager, challengeId, purpose);
        if (!found) return { refused: unusable('missing') };
        const { challenge, user } = found;
        if ((owner.userId && challenge.userId !== owner.userId) || (owner.sessionId && challenge.sessionId !== owner.sessionId)) {
          return { refused: unusable('missing') };
        }
        const now = this.clock.now();
        const state = challengeState(challenge, now);
        if (state !== 'open') return { refused: unusable(state) };
        const method = await this.methodFor(user, challenge, attempt.method);
        if (!method) return { refused: new DomainError(ErrorCode.TwoFactorMethodDisabled, 'The user does not have this method') };

        let result;
        try {
          result = await this.twoFactor.verifySecondFactor(user, method, attempt.code, client, manager);
        } catch (error) {
          // A locked account's challenge ends like one whose attempts are used up.
          if (!isDomainError(error) || error.code !== ErrorCode.TwoFactorLocked) throw error;
          await this.challenges.delete(manager, challenge.id);
          return { refused: error };
        }
        const audit = { userId: user.id, method, client };
        if (result.verdict === 'verified') {
          await this.challenges.complete(manager, challenge.id, now);
          await this.audit.record({ ...audit, type: 'challenge_completed', outcome: 'success' }, manager);
          const verified = { user, challenge: { ...challenge, completedAt: now } };
          return { verified, result: await then(verified, manager) };
        }
        await this.audit.record({ ...audit, type: 'challenge_failed', outcome: 'failure' }, manager);
        const failedAttempts = challenge.failedAttempts + 1;
        if (failedAttempts >= this.config.EMAIL_CODE_MAX_ATTEMPTS || result.maxAttemptsReached) {
          await this.challenges.delete(manager, challenge.id);
          return { refused: new DomainError(ErrorCode.TwoFactorMaxAttempts, 'Too many wrong codes; log in again') };
        }
        await this.challenges.setFailedAttempts(manager, challenge.id, failedAttempts);
        return {
          refused:
            result.verdict === 'expired'
              ? new DomainError(ErrorCode.TwoFactorCodeExpired, 'The code has expired')
              : new DomainError(ErrorCode.InvalidCode, 'Invalid code'),
        };
      },
    );
    if ('refused' in outcome) throw outcome.refused;
    this.metrics.challengeCompleted(outcome.verified.challenge.purpose);
    return outcome;
  }

  /** The method an attempt on this challenge uses: as named (one the user has, or a backup code of a TOTP user), else the challenge's. */
  private async methodFor(
    user: User,
    challenge: Challenge,
    requested: string | null | undefined,
  ): Promise<SecondFactorMethod | null> {
    if (!requested || requested === challenge.method) return challenge.method;
    const available = await this.twoFactor.availableMethods(user.id);
    if (requested === 'backup') return available.includes('totp') ? 'backup' : null;
    return available.find((method) => method === requested) ?? null;
  }
}
