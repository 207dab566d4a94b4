import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows.js';
import type { User } from '../users/user.entity.js';
import { USER_COLUMNS, userFrom, type UserRow } from '../users/users.repository.js';
import { Challenge, type ChallengePurpose } from './challenge.entity.js';

/** A challenge's columns as findWithUserForUpdate names them beside its user's. */
interface ChallengeRow {
  challenge_id: string;
  purpose: ChallengePurpose;
  method: Challenge['method'];
  expires_at: Date;
  failed_attempts: number;
  completed_at: Date | null;
  challenge_created_at: Date;
  ip: string;
  session_id: string | null;
  user_agent: string;
}

/** The `challenges` table: pending second factors of a login or a step-up. */
@Injectable()
export class ChallengesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Inserts `challenge`; the user's finished (completed or expired) challenges go, in the same
   * statement. Plain SQL: one per login, and TypeORM's insert builder cost more than the statement.
   */
  async replaceFinished(db: EntityManager, challenge: Challenge, now: Date): Promise<void> {
    await db.query(
      `WITH finished AS (DELETE FROM challenges WHERE user_id = $2 AND (completed_at IS NOT NULL OR expires_at <= $12))
       INSERT INTO challenges (id, user_id, purpose, method, expires_at, failed_attempts, completed_at, created_at, ip, session_id, user_agent)
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
        now,
      ],
    );
  }

  find(id: string, purpose?: ChallengePurpose): Promise<Challenge | null> {
    return this.dataSource.getRepository(Challenge).findOneBy({ id, ...(purpose ? { purpose } : {}) });
  }

  /**
   * The challenge, locked (FOR UPDATE) for the caller's transaction so attempts on it take turns,
   * and its user, in one statement (a challenge goes with its user: ON DELETE CASCADE).
   */
  async findWithUserForUpdate(
    db: EntityManager,
    id: string,
    purpose: ChallengePurpose,
  ): Promise<{ challenge: Challenge; user: User } | null> {
    const [row] = await queryRows<UserRow & ChallengeRow>(
      db,
      `SELECT ${USER_COLUMNS}, c.id AS challenge_id, c.purpose, c.method, c.expires_at, c.failed_attempts, c.completed_at,
              c.created_at AS challenge_created_at, c.ip, c.session_id, c.user_agent
         FROM challenges c JOIN users u ON u.id = c.user_id
        WHERE c.id = $1 AND c.purpose = $2 FOR UPDATE OF c`,
      [id, purpose],
    );
    if (!row) return null;
    // Built by hand: every login and step-up reads one, and TypeORM's builder and hydration are not free.
    const challenge = Object.assign(new Challenge(), {
      id: row.challenge_id,
      userId: row.id,
      purpose: row.purpose,
      method: row.method,
      expiresAt: row.expires_at,
      failedAttempts: row.failed_attempts,
      completedAt: row.completed_at,
      createdAt: row.challenge_created_at,
      ip: row.ip,
      sessionId: row.session_id,
      userAgent: row.user_agent,
    } satisfies Challenge);
    return { challenge, user: userFrom(row) };
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
