import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, Not } from 'typeorm';
import { Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { randomId, randomToken, sha256Hex } from '../common/random.js';
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

  /** The user's live personal access tokens (never the tokens themselves). */
  listPersonalAccessTokens(userId: string): Promise<Session[]> {
    return this.dataSource
      .getRepository(Session)
      .find({ where: { userId, kind: 'personal', revokedAt: IsNull() }, order: { createdAt: 'ASC' } });
  }

  /** Revokes the user's personal access token of that name; NotFound when there is none. */
  async revokePersonalAccessToken(userId: string, name: string): Promise<void> {
    const revoked = await this.dataSource
      .getRepository(Session)
      .update({ userId, kind: 'personal', name, revokedAt: IsNull() }, { revokedAt: this.clock.now() });
    if (!revoked.affected) throw new DomainError(ErrorCode.NotFound, 'No personal access token of that name');
  }

  /** One indexed query: the hot path of every authenticated request. */
  async authenticate(userId: string, token: string): Promise<AuthenticatedSession | null> {
    const session = await this.dataSource
      .getRepository(Session)
      .createQueryBuilder('session')
      .innerJoinAndMapOne('session.user', User, 'user', 'user.id = session.userId')
      .where('session.tokenHash = :hash AND session.revokedAt IS NULL', { hash: sha256Hex(token) })
      .getOne();
    if (!session || session.userId !== userId) return null;
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
      name: null,
      bypassTwoFactor: false,
      twoFactorFingerprint: null,
      twoFactorUntil: null,
      lastUsedAt: null,
      revokedAt: null,
      ...fields,
    });
    await manager.insert(Session, session);
    return { session, token };
  }
}
