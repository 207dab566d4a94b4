import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Challenge, type ChallengePurpose } from './challenge.entity.js';

/** The `challenges` table: pending second factors of a login or a step-up. */
@Injectable()
export class ChallengesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Inserts `challenge`; the user's finished (completed or expired) challenges go. */
  async replaceFinished(db: EntityManager, challenge: Challenge, now: Date): Promise<void> {
    await db.query(`DELETE FROM challenges WHERE user_id = $1 AND (completed_at IS NOT NULL OR expires_at <= $2)`, [
      challenge.userId,
      now,
    ]);
    await db.insert(Challenge, challenge);
  }

  find(id: string, purpose?: ChallengePurpose): Promise<Challenge | null> {
    return this.dataSource.getRepository(Challenge).findOneBy({ id, ...(purpose ? { purpose } : {}) });
  }

  /** The challenge, locked (FOR UPDATE) for the caller's transaction: attempts on it take turns. */
  findForUpdate(db: EntityManager, id: string, purpose: ChallengePurpose): Promise<Challenge | null> {
    return db.getRepository(Challenge).findOne({ where: { id, purpose }, lock: { mode: 'pessimistic_write' } });
  }

  async complete(db: EntityManager, id: string, at: Date): Promise<void> {
    await db.update(Challenge, { id }, { completedAt: at });
  }

  async setFailedAttempts(db: EntityManager, id: string, failedAttempts: number): Promise<void> {
    await db.update(Challenge, { id }, { failedAttempts });
  }

  async delete(db: EntityManager, id: string): Promise<void> {
    await db.delete(Challenge, { id });
  }
}
