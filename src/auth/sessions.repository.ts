import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, Not } from 'typeorm';
import { preparedRows } from '../database/prepared-statement.js';
import { queryRows } from '../database/query-rows.js';
import { type AccountSnapshot, accountSnapshotFrom, type StoredAccountSnapshot } from '../users/account-snapshot.js';
import { User } from '../users/user.entity.js';
import { Session, type SessionKind } from './session.entity.js';

export interface SessionWithUser {
  session: Session;
  user: User;
}

export type AuthenticatedRow = SessionWithUser & { snapshot: AccountSnapshot };

/**
 * One row per live session: the session, its user, their addresses and methods, as a single json
 * value. pg sets up a parser per column of every result and parses each timestamp on its own; one
 * json column is one JSON.parse, which the profile of GET /api/v1/me showed to be the cheaper way.
 * Addresses and methods come from the user's row (`account_snapshot`, kept by triggers): built
 * here with two subqueries and a json aggregate, they cost PostgreSQL several times the lookup.
 */
const SESSION_WITH_ACCOUNT = `
  SELECT json_build_object(
           'id', s.id, 'user_id', s.user_id, 'token_hash', s.token_hash, 'kind', s.kind, 'name', s.name,
           'last_token_part', s.last_token_part, 'bypass_two_factor', s.bypass_two_factor,
           'two_factor_until', s.two_factor_until, 'two_factor_fingerprint', s.two_factor_fingerprint,
           'access_generation', s.access_generation, 'ip', s.ip, 'user_agent', s.user_agent, 'browser', s.browser,
           'os', s.os, 'created_at', s.created_at, 'last_used_at', s.last_used_at,
           'username', u.username, 'user_name', u.name, 'password_hash', u.password_hash, 'locale', u.locale,
           'roles', u.roles, 'preferred_two_factor_method', u.preferred_two_factor_method,
           'user_created_at', u.created_at, 'user_updated_at', u.updated_at,
           'snapshot', u.account_snapshot
         ) AS account
    FROM sessions s JOIN users u ON u.id = s.user_id`;

const BY_TOKEN_HASH = `${SESSION_WITH_ACCOUNT}
   WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND (s.kind <> 'login' OR s.created_at > $2)`;

const BY_ID = `${SESSION_WITH_ACCOUNT}
   WHERE s.id = $1 AND s.revoked_at IS NULL`;

const INSERT_SESSION = `
  INSERT INTO sessions (id, user_id, token_hash, kind, name, last_token_part, bypass_two_factor, two_factor_until,
                        two_factor_fingerprint, access_generation, ip, user_agent, browser, os, created_at, last_used_at, revoked_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`;

/** Timestamps arrive as ISO 8601 text inside the json value. */
type Timestamp = string;

interface SessionAccount {
  id: string;
  user_id: string;
  token_hash: string;
  kind: SessionKind;
  name: string | null;
  last_token_part: string | null;
  bypass_two_factor: boolean;
  two_factor_until: Timestamp | null;
  two_factor_fingerprint: string | null;
  access_generation: number;
  ip: string;
  user_agent: string;
  browser: string | null;
  os: string | null;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  username: string;
  user_name: string;
  password_hash: string | null;
  locale: string | null;
  roles: string[];
  preferred_two_factor_method: 'email' | 'totp' | null;
  user_created_at: Timestamp;
  user_updated_at: Timestamp;
  snapshot: StoredAccountSnapshot;
}

const toDate = (value: Timestamp | null): Date | null => (value === null ? null : new Date(value));

/** The row as entities (built by hand: this is the hot path, TypeORM's hydration is not free). */
function toAuthenticated(row: SessionAccount): AuthenticatedRow {
  const session = Object.assign(new Session(), {
    id: row.id,
    userId: row.user_id,
    tokenHash: row.token_hash,
    kind: row.kind,
    name: row.name,
    lastTokenPart: row.last_token_part,
    bypassTwoFactor: row.bypass_two_factor,
    twoFactorUntil: toDate(row.two_factor_until),
    twoFactorFingerprint: row.two_factor_fingerprint,
    accessGeneration: row.access_generation,
    ip: row.ip,
    userAgent: row.user_agent,
    browser: row.browser,
    os: row.os,
    createdAt: new Date(row.created_at),
    lastUsedAt: toDate(row.last_used_at),
    // Only live sessions are read.
    revokedAt: null,
  } satisfies Session);
  const user = Object.assign(new User(), {
    id: row.user_id,
    username: row.username,
    name: row.user_name,
    passwordHash: row.password_hash,
    locale: row.locale,
    roles: row.roles,
    preferredTwoFactorMethod: row.preferred_two_factor_method,
    createdAt: new Date(row.user_created_at),
    updatedAt: new Date(row.user_updated_at),
  } satisfies User);
  return { session, user, snapshot: accountSnapshotFrom(row.user_id, row.snapshot) };
}

/** The `sessions` table: login tokens, personal access tokens and surface 2's JWT sessions. */
@Injectable()
export class SessionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Plain SQL: every login and token writes one, and TypeORM's insert builder cost more than the statement. */
  async insert(db: EntityManager, session: Session): Promise<void> {
    await db.query(INSERT_SESSION, [
      session.id,
      session.userId,
      session.tokenHash,
      session.kind,
      session.name,
      session.lastTokenPart,
      session.bypassTwoFactor,
      session.twoFactorUntil,
      session.twoFactorFingerprint,
      session.accessGeneration,
      session.ip,
      session.userAgent,
      session.browser,
      session.os,
      session.createdAt,
      session.lastUsedAt,
      session.revokedAt,
    ]);
  }

  /**
   * A live session by its token's hash (a login session younger than `loginCutoff`), with its user
   * and their account snapshot: the hot path of every surface-1 request, one indexed query as a
   * named prepared statement.
   */
  async findLiveByTokenHash(tokenHash: string, loginCutoff: Date): Promise<AuthenticatedRow | null> {
    const [row] = await preparedRows<{ account: SessionAccount }>(this.dataSource, BY_TOKEN_HASH, [tokenHash, loginCutoff]);
    return row ? toAuthenticated(row.account) : null;
  }

  /** A live session by id, with its user and account snapshot: surface 2's hot path (the session a JWT names). */
  async findLiveById(sessionId: string): Promise<AuthenticatedRow | null> {
    const [row] = await preparedRows<{ account: SessionAccount }>(this.dataSource, BY_ID, [sessionId]);
    return row ? toAuthenticated(row.account) : null;
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
}
