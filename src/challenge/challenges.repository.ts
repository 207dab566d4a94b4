import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows.js';
import { Challenge, type ChallengePurpose } from './challenge.entity.js';

interface ChallengeRow {
  id: string;
  user_id: string;
  purpose: ChallengePurpose;
  method: Challenge['method'];
  expires_at: Date;
  failed_attempts: number;
  completed_at: Date | null;
  created_at: Date;
  ip: string;
  session_id: string | null;
  user_agent: string;
}

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
  async findForUpdate(db: EntityManager, id: string, purpose: ChallengePurpose): Promise<Challenge | null> {
    const [row] = await queryRows<ChallengeRow>(
      db,
      `SELECT id, user_id, purpose, method, expires_at, failed_attempts, completed_at, created_at, ip, session_id, user_agent
         FROM challenges WHERE id = $1 AND purpose = $2 FOR UPDATE`,
      [id, purpose],
    );
    if (!row) return null;
    // Built by hand: every login and step-up reads one, and TypeORM's builder and hydration are not free.
    return Object.assign(new Challenge(), {
      id: row.id,
      userId: row.user_id,
      purpose: row.purpose,
      method: row.method,
      expiresAt: row.expires_at,
      failedAttempts: row.failed_attempts,
      completedAt: row.completed_at,
      createdAt: row.created_at,
      ip: row.ip,
      sessionId: row.session_id,
      userAgent: row.user_agent,
    } satisfies Challenge);
  }

  async complete(db: EntityManager, id: string, at: Date): Promise<void> {
    await db.query('UPDATE challenges SET completed_at = $2 WHERE id = $1', [id, at]);
  }

  async setFailedAttempts(db: EntityManager, id: string, failedAttempts: number): Promise<void> {
    await db.update(Challenge, { id }, { failedAttempts });
  }

  async delete(db: EntityManager, id: string): Promise<void> {
    await db.delete(Challenge, { id });
  }
}
