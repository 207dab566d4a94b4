import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode, isDomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { TwoFactorService } from '../two-factor/two-factor.service.js';
import type { ClientInfo, SecondFactorMethod } from '../two-factor/two-factor.types.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { Challenge, ChallengePurpose } from './challenge.entity.js';

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

/**
 * Pending second factors. A login that needs one creates a challenge; the client finishes it once
 * with a right code (verify), asking for more email codes meanwhile if it likes (sendEmailCode).
 * Email codes are the user's handshake codes, so a code mailed for the challenge also completes
 * `login` with `code`, and the other way round; each is accepted once.
 */
@Injectable()
export class ChallengesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly twoFactor: TwoFactorService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** A new challenge, valid CHALLENGE_TTL_SECONDS. The user's finished (completed or expired) challenges go. */
  async create(user: User, purpose: ChallengePurpose, method: SecondFactorMethod, client: ClientInfo): Promise<Challenge> {
    const now = this.clock.now();
    const challenge = this.dataSource.getRepository(Challenge).create({
      id: newChallengeId(),
      userId: user.id,
      purpose,
      method,
      expiresAt: addSeconds(now, this.config.CHALLENGE_TTL_SECONDS),
      failedAttempts: 0,
      completedAt: null,
      createdAt: now,
      ip: client.ip.slice(0, 64),
      userAgent: client.userAgent.slice(0, 512),
    });
    await this.dataSource.transaction(async (manager) => {
      await manager.query(`DELETE FROM challenges WHERE user_id = $1 AND (completed_at IS NOT NULL OR expires_at <= $2)`, [
        user.id,
        now,
      ]);
      await manager.insert(Challenge, challenge);
      await this.audit.record({ userId: user.id, type: 'challenge_created', outcome: 'success', method, client }, manager);
    });
    return challenge;
  }

  /**
   * Mails a fresh code for an open email challenge (an explicit request: the resend window does not
   * apply; the route's rate limit and EMAIL_CODE_MAX_OUTSTANDING do). The challenge's attempt count
   * stays as it is, so resends buy no guesses.
   */
  async sendEmailCode(challengeId: string, client: ClientInfo): Promise<void> {
    const challenge = await this.findOpen(challengeId);
    if (challenge.method !== 'email') throw new DomainError(ErrorCode.InvalidChallengeMethod, 'invalid challenge method');
    const user = await this.userOf(challenge);
    // Email 2FA switched off (or the address gone) since the challenge began.
    if (!(await this.twoFactor.availableMethods(user.id)).includes('email')) {
      throw new DomainError(ErrorCode.InvalidChallengeMethod, 'invalid challenge method');
    }
    // Refused while the account is locked (TwoFactorLocked), as every code send is.
    await this.twoFactor.sendEmailCode(user, { awaitDelivery: true, client, fresh: true });
  }

  /**
   * Finishes an open challenge of `purpose` with a code of its method. Attempts on one challenge
   * take turns (its row is locked for the whole check, counts and use of the code included, all in
   * one transaction): the first right code completes it and every later attempt finds it
   * completed, so a right code always wins however many arrive at once, and wrong guesses get at
   * most EMAIL_CODE_MAX_ATTEMPTS checks; the last one deletes the challenge (TwoFactorMaxAttempts).
   * The user's failure counters and lockout apply as in the handshake.
   */
  async verify(
    challengeId: string,
    code: string,
    client: ClientInfo,
    purpose: ChallengePurpose = 'login',
  ): Promise<VerifiedChallenge> {
    if (!CHALLENGE_ID_PATTERN.test(challengeId)) throw unusable('missing');
    // Refusals are returned rather than thrown inside, so the counts they made still commit.
    const outcome = await this.dataSource.transaction(async (manager): Promise<VerifiedChallenge | { refused: DomainError }> => {
      const challenge = await manager
        .getRepository(Challenge)
        .findOne({ where: { id: challengeId, purpose }, lock: { mode: 'pessimistic_write' } });
      if (!challenge) return { refused: unusable('missing') };
      const now = this.clock.now();
      const state = challengeState(challenge, now);
      if (state !== 'open') return { refused: unusable(state) };
      const user = await this.users.findById(challenge.userId, manager);
      if (!user) return { refused: new DomainError(ErrorCode.UserNotFound, 'user not found') };

      let result;
      try {
        result = await this.twoFactor.verifySecondFactor(user, challenge.method, code, client, manager);
      } catch (error) {
        // A locked account's challenge ends like one whose attempts are used up.
        if (!isDomainError(error) || error.code !== ErrorCode.TwoFactorLocked) throw error;
        await manager.delete(Challenge, { id: challenge.id });
        return { refused: error };
      }
      const audit = { userId: user.id, method: challenge.method, client };
      if (result.verified) {
        await manager.update(Challenge, { id: challenge.id }, { completedAt: now });
        await this.audit.record({ ...audit, type: 'challenge_completed', outcome: 'success' }, manager);
        return { user, challenge: { ...challenge, completedAt: now } };
      }
      await this.audit.record({ ...audit, type: 'challenge_failed', outcome: 'failure' }, manager);
      const failedAttempts = challenge.failedAttempts + 1;
      if (failedAttempts >= this.config.EMAIL_CODE_MAX_ATTEMPTS || result.maxAttemptsReached) {
        await manager.delete(Challenge, { id: challenge.id });
        return { refused: new DomainError(ErrorCode.TwoFactorMaxAttempts, 'Too many wrong codes; log in again') };
      }
      await manager.update(Challenge, { id: challenge.id }, { failedAttempts });
      return { refused: new DomainError(ErrorCode.InvalidCode, 'Invalid code') };
    });
    if ('refused' in outcome) throw outcome.refused;
    return outcome;
  }

  private async findOpen(challengeId: string, purpose?: ChallengePurpose): Promise<Challenge> {
    if (!CHALLENGE_ID_PATTERN.test(challengeId)) throw unusable('missing');
    const challenge = await this.dataSource
      .getRepository(Challenge)
      .findOneBy({ id: challengeId, ...(purpose ? { purpose } : {}) });
    if (!challenge) throw unusable('missing');
    const state = challengeState(challenge, this.clock.now());
    if (state !== 'open') throw unusable(state);
    return challenge;
  }

  private async userOf(challenge: Challenge): Promise<User> {
    const user = await this.users.findById(challenge.userId);
    if (!user) throw new DomainError(ErrorCode.UserNotFound, 'user not found');
    return user;
  }
}
