import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Challenge, type ChallengePurpose } from './challenge.entity.js';

/** The `challenges` table: pending second factors of a login or a step-up. */
@Injectable()
export class ChallengesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Inserts `challenge`; the user's finished (completed or expired) challenges go. Plain SQL: one
   * per login, and TypeORM's insert builder cost more than the statement.
   */
  async replaceFinished(db: EntityManager, challenge: Challenge, now: Date): Promise<void> {
    await db.query(`DELETE FROM challenges WHERE user_id = $1 AND (completed_at IS NOT NULL OR expires_at <= $2)`, [
      challenge.userId,
      now,
    ]);
    await db.query(
      `INSERT INTO challenges (id, user_id, purpose, method, expires_at, failed_attempts, completed_at, created_at, ip, session_id, user_agent)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        challenge.id,
        challenge.userId,
        challenge.purpose,
        challenge.method,
        challenge.expiresAt,
        challenge.failedAttempts,
        challenge.completedAt,
        challenge.createdAt,
        challenge.ip,
        challenge.sessionId,
        challenge.userAgent,
      ],
    );
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
