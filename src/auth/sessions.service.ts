import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, Not } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { randomId, randomToken, sha256Hex } from '../common/random.js';
import { queryRows } from '../database/query-rows.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import { User } from '../users/user.entity.js';
import { Session } from './session.entity.js';

const LAST_USED_RESOLUTION_MS = 60_000;

export interface AuthenticatedSession {
  user: User;
  session: Session;
}

export interface IssuedSession {
  session: Session;
  /** The bearer token; shown once, only its hash is stored. */
  token: string;
}

@Injectable()
export class SessionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  async createLoginSession(userId: string, twoFactor?: { fingerprint: string; until: Date }): Promise<IssuedSession> {
    return this.create(this.dataSource.manager, {
      userId,
      kind: 'login',
      twoFactorFingerprint: twoFactor?.fingerprint ?? null,
      twoFactorUntil: twoFactor?.until ?? null,
    });
  }

  async createPersonalAccessToken(userId: string, name: string, bypassTwoFactor: boolean): Promise<IssuedSession> {
    try {
      return await this.create(this.dataSource.manager, { userId, kind: 'personal', name, bypassTwoFactor });
    } catch (error) {
      // One live token per name (a unique index), also under parallel requests.
      if (isUniqueViolation(error)) throw new DomainError(ErrorCode.TokenAlreadyExists, 'A token with this name already exists');
      throw error;
    }
  }

  /**
   * A new secret for the user's personal access token of that name (same name, same 2FA bypass);
   * the old one stops working at once. TokenDoesNotExist when there is none.
   */
  async regeneratePersonalAccessToken(userId: string, name: string): Promise<IssuedSession> {
    return this.dataSource.transaction(async (manager) => {
      const revoked = await queryRows<{ bypass_two_factor: boolean }>(
        manager,
        `UPDATE sessions SET revoked_at = $3
          WHERE user_id = $1 AND kind = 'personal' AND name = $2 AND revoked_at IS NULL
          RETURNING bypass_two_factor`,
        [userId, name, this.clock.now()],
      );
      if (!revoked[0]) throw new DomainError(ErrorCode.TokenDoesNotExist, 'Token does not exist');
      return this.create(manager, { userId, kind: 'personal', name, bypassTwoFactor: revoked[0].bypass_two_factor });
    });
  }

  /** The user's live personal access tokens (never the tokens themselves). */
  listPersonalAccessTokens(userId: string): Promise<Session[]> {
    return this.dataSource
      .getRepository(Session)
      .find({ where: { userId, kind: 'personal', revokedAt: IsNull() }, order: { createdAt: 'ASC' } });
  }

  /** Revokes the user's personal access token of that name; TokenDoesNotExist when there is none. */
  async revokePersonalAccessToken(userId: string, name: string): Promise<void> {
    const revoked = await this.dataSource
      .getRepository(Session)
      .update({ userId, kind: 'personal', name, revokedAt: IsNull() }, { revokedAt: this.clock.now() });
    if (!revoked.affected) throw new DomainError(ErrorCode.TokenDoesNotExist, 'Token does not exist');
  }

  /** One indexed query: the hot path of every authenticated request. */
  async authenticate(userId: string, token: string): Promise<AuthenticatedSession | null> {
    const found = await this.authenticateToken(token);
    return found?.user.id === userId ? found : null;
  }

  /**
   * The live session of a bearer token: not revoked and, for a login session, younger than
   * LOGIN_TOKEN_EXPIRY_DAYS (personal access tokens do not expire). The age is checked against
   * `created_at` at read time, so a changed setting applies to sessions that already exist.
   */
  async authenticateToken(token: string): Promise<AuthenticatedSession | null> {
    const loginCutoff = addSeconds(this.clock.now(), -this.config.LOGIN_TOKEN_EXPIRY_DAYS * 86_400);
    const session = await this.dataSource
      .getRepository(Session)
      .createQueryBuilder('session')
      .innerJoinAndMapOne('session.user', User, 'user', 'user.id = session.userId')
      .where('session.tokenHash = :hash AND session.revokedAt IS NULL', { hash: sha256Hex(token) })
      .andWhere(`(session.kind = 'personal' OR session.createdAt > :loginCutoff)`, { loginCutoff })
      .getOne();
    if (!session) return null;
    const { user } = session as Session & { user: User };
    delete (session as Partial<Session & { user: User }>).user;
    this.touch(session);
    return { user, session };
  }

  /**
   * Records use at most once a minute per session, without waiting: a write on every request
   * would double the cost of the hot path for a timestamp nobody needs to the second.
   */
  private touch(session: Session): void {
    const now = this.clock.now();
    if (session.lastUsedAt && now.getTime() - session.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    session.lastUsedAt = now;
    this.dataSource
      .getRepository(Session)
      .update({ id: session.id }, { lastUsedAt: now })
      .catch(() => undefined);
  }

  async revoke(sessionId: string): Promise<void> {
    await this.dataSource.getRepository(Session).update({ id: sessionId, revokedAt: IsNull() }, { revokedAt: this.clock.now() });
  }

  /** Ends every login session of the user but `keepSessionId`; personal access tokens stay. */
  async revokeOtherLoginSessions(userId: string, keepSessionId: string, manager?: EntityManager): Promise<void> {
    await (manager ?? this.dataSource.manager)
      .getRepository(Session)
      .update({ userId, kind: 'login', id: Not(keepSessionId), revokedAt: IsNull() }, { revokedAt: this.clock.now() });
  }

  async rememberTwoFactor(sessionId: string, fingerprint: string, until: Date): Promise<void> {
    await this.dataSource
      .getRepository(Session)
      .update({ id: sessionId }, { twoFactorFingerprint: fingerprint, twoFactorUntil: until });
  }

  private async create(
    manager: EntityManager,
    fields: Partial<Session> & Pick<Session, 'userId' | 'kind'>,
  ): Promise<IssuedSession> {
    const token = randomToken();
    const session = manager.create(Session, {
      id: randomId(),
      tokenHash: sha256Hex(token),
      lastTokenPart: fields.kind === 'personal' ? token.slice(-6) : null,
      name: null,
      bypassTwoFactor: false,
      twoFactorFingerprint: null,
      twoFactorUntil: null,
      lastUsedAt: null,
      revokedAt: null,
      // The clock's time, not the database's: the login expiry is decided against the same clock.
      createdAt: this.clock.now(),
      ...fields,
    });
    await manager.insert(Session, session);
    return { session, token };
  }
}
