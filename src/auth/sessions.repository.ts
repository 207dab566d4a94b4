import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, Not } from 'typeorm';
import { queryRows } from '../database/query-rows.js';
import { User } from '../users/user.entity.js';
import { Session, type SessionKind } from './session.entity.js';

export interface SessionWithUser {
  session: Session;
  user: User;
}

/** The `sessions` table: login tokens, personal access tokens and surface 2's JWT sessions. */
@Injectable()
export class SessionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(db: EntityManager, session: Session): Promise<void> {
    await db.insert(Session, session);
  }

  /** A live session by its token's hash, with its user: one indexed query. */
  async findLiveByTokenHash(tokenHash: string, loginCutoff: Date): Promise<SessionWithUser | null> {
    const session = await this.dataSource
      .getRepository(Session)
      .createQueryBuilder('session')
      .innerJoinAndMapOne('session.user', User, 'user', 'user.id = session.userId')
      .where('session.tokenHash = :tokenHash AND session.revokedAt IS NULL', { tokenHash })
      .andWhere(`(session.kind <> 'login' OR session.createdAt > :loginCutoff)`, { loginCutoff })
      .getOne();
    return session ? this.split(session) : null;
  }

  /** A live session by id, with its user (surface 2: the session a JWT names). */
  async findLiveById(sessionId: string, db: EntityManager = this.dataSource.manager): Promise<SessionWithUser | null> {
    const session = await db
      .getRepository(Session)
      .createQueryBuilder('session')
      .innerJoinAndMapOne('session.user', User, 'user', 'user.id = session.userId')
      .where('session.id = :sessionId AND session.revokedAt IS NULL', { sessionId })
      .getOne();
    return session ? this.split(session) : null;
  }

  async touch(sessionId: string, at: Date): Promise<void> {
    await this.dataSource.getRepository(Session).update({ id: sessionId }, { lastUsedAt: at });
  }

  listPersonal(userId: string): Promise<Session[]> {
    return this.dataSource
      .getRepository(Session)
      .find({ where: { userId, kind: 'personal', revokedAt: IsNull() }, order: { createdAt: 'ASC' } });
  }

  /** The user's live sessions of these kinds, newest use first. */
  listLive(userId: string, kinds: SessionKind[]): Promise<Session[]> {
    return this.dataSource
      .getRepository(Session)
      .createQueryBuilder('session')
      .where('session.userId = :userId AND session.revokedAt IS NULL AND session.kind IN (:...kinds)', { userId, kinds })
      .orderBy('coalesce(session.lastUsedAt, session.createdAt)', 'DESC')
      .getMany();
  }

  /** Revokes the user's live personal token of that name; its 2FA bypass, or null when there was none. */
  async revokePersonalByName(
    db: EntityManager,
    userId: string,
    name: string,
    at: Date,
  ): Promise<{ bypassTwoFactor: boolean } | null> {
    const [revoked] = await queryRows<{ bypass_two_factor: boolean }>(
      db,
      `UPDATE sessions SET revoked_at = $3
        WHERE user_id = $1 AND kind = 'personal' AND name = $2 AND revoked_at IS NULL
        RETURNING bypass_two_factor`,
      [userId, name, at],
    );
    return revoked ? { bypassTwoFactor: revoked.bypass_two_factor } : null;
  }

  /** Revokes one live session; `userId` (when given) must own it. False when there was none. */
  async revoke(sessionId: string, at: Date, userId?: string): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(Session)
      .update({ id: sessionId, revokedAt: IsNull(), ...(userId ? { userId } : {}) }, { revokedAt: at });
    return (result.affected ?? 0) > 0;
  }

  /** Revokes the user's live sessions of these kinds but `keepSessionId`. */
  async revokeOthers(
    db: EntityManager,
    userId: string,
    kinds: SessionKind[],
    keepSessionId: string | null,
    at: Date,
  ): Promise<void> {
    await db.query(
      `UPDATE sessions SET revoked_at = $4
        WHERE user_id = $1 AND kind = ANY($2::varchar[]) AND revoked_at IS NULL AND ($3::varchar IS NULL OR id <> $3)`,
      [userId, kinds, keepSessionId, at],
    );
  }

  async rememberTwoFactor(sessionId: string, fingerprint: string, until: Date): Promise<void> {
    await this.dataSource
      .getRepository(Session)
      .update({ id: sessionId }, { twoFactorFingerprint: fingerprint, twoFactorUntil: until });
  }

  /**
   * Replaces a live session's token hash, but only if it is still `expectedHash`: of two parallel
   * rotations one wins. False when the session is gone or its token has moved on.
   */
  async rotateTokenHash(sessionId: string, expectedHash: string, nextHash: string, at: Date): Promise<boolean> {
    const rotated = await queryRows(
      this.dataSource,
      `UPDATE sessions SET token_hash = $3, last_used_at = $4
        WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL RETURNING id`,
      [sessionId, expectedHash, nextHash, at],
    );
    return rotated.length > 0;
  }

  /** Every access token of the user's sessions stops working (a generation older than the session's). */
  async bumpAccessGeneration(db: EntityManager, userId: string): Promise<void> {
    await db.getRepository(Session).increment({ userId, kind: 'token', revokedAt: IsNull() }, 'accessGeneration', 1);
  }

  /** Whether the user has opened a session before from this user agent (any kind but personal tokens). */
  async seenUserAgent(userId: string, userAgent: string, exceptSessionId: string): Promise<boolean> {
    return this.dataSource
      .getRepository(Session)
      .existsBy({ userId, userAgent, kind: Not('personal'), id: Not(exceptSessionId) });
  }

  private split(session: Session): SessionWithUser {
    const { user, ...rest } = session as Session & { user: User };
    return { session: Object.assign(new Session(), rest), user };
  }
}
