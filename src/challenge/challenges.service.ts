import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode, isDomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';
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
   * Finishes an open challenge of `purpose` with a code of its method. Each attempt is counted on
   * the challenge before the code is checked, so parallel guesses cannot exceed
   * EMAIL_CODE_MAX_ATTEMPTS; the last wrong one deletes the challenge (TwoFactorMaxAttempts). The
   * user's failure counters and lockout apply as in the handshake. A right code completes the
   * challenge with one atomic UPDATE: of two parallel requests at most one gets the user.
   */
  async verify(
    challengeId: string,
    code: string,
    client: ClientInfo,
    purpose: ChallengePurpose = 'login',
  ): Promise<VerifiedChallenge> {
    const challenge = await this.findOpen(challengeId, purpose);
    const user = await this.userOf(challenge);
    // A locked account's challenge ends like one whose attempts are used up (totp-max-attempts).
    await this.discardOnLock(challenge.id, this.twoFactor.assertNotLocked(user));
    const maxAttempts = this.config.EMAIL_CODE_MAX_ATTEMPTS;

    const [reserved] = await queryRows<{ failed_attempts: number }>(
      this.dataSource,
      `UPDATE challenges SET failed_attempts = failed_attempts + 1
        WHERE id = $1 AND completed_at IS NULL AND expires_at > $2 AND failed_attempts < $3
        RETURNING failed_attempts`,
      [challenge.id, this.clock.now(), maxAttempts],
    );
    if (!reserved) {
      const state = await this.stateOf(challenge.id);
      if (state !== 'open') throw unusable(state);
      // Attempts used up by parallel requests.
      await this.discard(challenge.id);
      throw this.maxAttempts();
    }

    const result = await this.discardOnLock(
      challenge.id,
      this.twoFactor.verifySecondFactor(user, challenge.method, code, client),
    );
    const audit = { userId: user.id, method: challenge.method, client };
    if (result.verified) {
      const now = this.clock.now();
      const completed = await queryRows(
        this.dataSource,
        `UPDATE challenges SET completed_at = $2, failed_attempts = failed_attempts - 1
          WHERE id = $1 AND completed_at IS NULL AND expires_at > $2
          RETURNING id`,
        [challenge.id, now],
      );
      if (completed.length !== 1) {
        // Completed by a parallel request, or expired meanwhile.
        const state = await this.stateOf(challenge.id);
        throw unusable(state === 'open' ? 'completed' : state);
      }
      await this.audit.record({ ...audit, type: 'challenge_completed', outcome: 'success' });
      return { user, challenge: { ...challenge, completedAt: now } };
    }

    await this.audit.record({ ...audit, type: 'challenge_failed', outcome: 'failure' });
    if (reserved.failed_attempts >= maxAttempts || result.maxAttemptsReached) {
      await this.discard(challenge.id);
      throw this.maxAttempts();
    }
    throw new DomainError(ErrorCode.InvalidCode, 'Invalid code');
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

  private async stateOf(challengeId: string): Promise<ChallengeState | 'missing'> {
    const challenge = await this.dataSource.getRepository(Challenge).findOneBy({ id: challengeId });
    return challenge ? challengeState(challenge, this.clock.now()) : 'missing';
  }

  private async userOf(challenge: Challenge): Promise<User> {
    const user = await this.users.findById(challenge.userId);
    if (!user) throw new DomainError(ErrorCode.UserNotFound, 'user not found');
    return user;
  }

  private async discardOnLock<T>(challengeId: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (isDomainError(error) && error.code === ErrorCode.TwoFactorLocked) await this.discard(challengeId);
      throw error;
    }
  }

  private async discard(challengeId: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM challenges WHERE id = $1`, [challengeId]);
  }

  private maxAttempts(): DomainError {
    return new DomainError(ErrorCode.TwoFactorMaxAttempts, 'Too many wrong codes; log in again');
  }
}
