import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { addSeconds, Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { randomId, randomToken, sha256Hex } from '../common/random.js';
import { AppConfig } from '../config/app-config.js';
import { isUniqueViolation } from '../database/unique-violation.js';
import type { User } from '../users/user.entity.js';
import { Session, type SessionKind } from './session.entity.js';
import type { AccountSnapshot } from '../users/account-snapshot.js';
import { SessionsRepository } from './sessions.repository.js';

const LAST_USED_RESOLUTION_MS = 60_000;

/** Sessions a user logs in with (not personal access tokens): what a new second factor or a new password ends. */
const INTERACTIVE: SessionKind[] = ['login', 'token'];

export interface AuthenticatedSession {
  user: User;
  session: Session;
  /** The user's addresses and methods as of this request's authentication (read with the session). */
  snapshot?: AccountSnapshot;
}

export interface IssuedSession {
  session: Session;
  /** The bearer secret; shown once, only its hash is stored. */
  token: string;
}

/** Where a session is opened from. */
export interface SessionOrigin {
  ip: string;
  userAgent: string;
  browser?: string | null;
  os?: string | null;
}

@Injectable()
export class SessionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly sessions: SessionsRepository,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /**
   * Surface 1's login token. With `twoFactor`, the second factor is remembered for that client.
   * `db`: the caller's transaction (the challenge that let the user in), else its own statement.
   */
  createLoginSession(
    userId: string,
    twoFactor?: { fingerprint: string; until: Date },
    origin?: SessionOrigin,
    db: EntityManager = this.dataSource.manager,
  ): Promise<IssuedSession> {
    return this.create(db, {
      userId,
      kind: 'login',
      twoFactorFingerprint: twoFactor?.fingerprint ?? null,
      twoFactorUntil: twoFactor?.until ?? null,
      ...this.originFields(origin),
    });
  }

  /**
   * Surface 2's session. Its bearer secret is the id of the current refresh token (`token` here):
   * only its hash is stored, and each refresh replaces it (rotateRefreshToken).
   */
  createTokenSession(userId: string, origin: SessionOrigin, db: EntityManager = this.dataSource.manager): Promise<IssuedSession> {
    return this.create(db, { userId, kind: 'token', ...this.originFields(origin) });
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
      const revoked = await this.sessions.revokePersonalByName(manager, userId, name, this.clock.now());
      if (!revoked) throw new DomainError(ErrorCode.TokenDoesNotExist, 'Token does not exist');
      return this.create(manager, { userId, kind: 'personal', name, bypassTwoFactor: revoked.bypassTwoFactor });
    });
  }

  /** The user's live personal access tokens (never the tokens themselves). */
  listPersonalAccessTokens(userId: string): Promise<Session[]> {
    return this.sessions.listPersonal(userId);
  }

  /** Revokes the user's personal access token of that name; TokenDoesNotExist when there is none. */
  async revokePersonalAccessToken(userId: string, name: string): Promise<void> {
    if (!(await this.sessions.revokePersonalByName(this.dataSource.manager, userId, name, this.clock.now()))) {
      throw new DomainError(ErrorCode.TokenDoesNotExist, 'Token does not exist');
    }
  }

  /** Surface 1: the session of `token`, if it belongs to `userId`. The hot path of every authenticated request. */
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
    const found = await this.sessions.findLiveByTokenHash(sha256Hex(token), loginCutoff);
    if (!found || found.session.kind === 'token') return null;
    this.touch(found.session);
    return found;
  }

  /** Surface 2: the live session a JWT names, with its user. */
  async findLiveSession(sessionId: string): Promise<AuthenticatedSession | null> {
    const found = await this.sessions.findLiveById(sessionId);
    if (found) this.touch(found.session);
    return found;
  }

  /**
   * Surface 2's refresh: `presented` must be the session's current refresh token id. It is then
   * replaced by a new one (returned). An older id (a refresh token already rotated away, so a
   * copy is in someone else's hands) revokes the whole session: null.
   */
  async rotateRefreshToken(sessionId: string, presented: string): Promise<string | null> {
    const next = randomToken();
    if (await this.sessions.rotateTokenHash(sessionId, sha256Hex(presented), sha256Hex(next), this.clock.now())) return next;
    await this.sessions.revoke(sessionId, this.clock.now());
    return null;
  }

  /** Every access token of the user stops working at once; refresh tokens still work (the client refreshes). */
  async revokeAccessTokens(userId: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await this.sessions.bumpAccessGeneration(manager, userId);
  }

  /** The user's sessions for the session list (login and surface 2 sessions, not personal tokens). */
  listInteractiveSessions(userId: string): Promise<Session[]> {
    return this.sessions.listLive(userId, INTERACTIVE);
  }

  /** Ends one session; `userId` must own it. False when the user has no such live session. */
  revokeOwnSession(userId: string, sessionId: string): Promise<boolean> {
    return this.sessions.revoke(sessionId, this.clock.now(), userId);
  }

  async revoke(sessionId: string): Promise<void> {
    await this.sessions.revoke(sessionId, this.clock.now());
  }

  /**
   * Ends every interactive session of the user (login tokens, surface 2 sessions) but
   * `keepSessionId`; personal access tokens stay.
   */
  async revokeOtherLoginSessions(userId: string, keepSessionId: string | null, manager?: EntityManager): Promise<void> {
    await this.sessions.revokeOthers(manager ?? this.dataSource.manager, userId, INTERACTIVE, keepSessionId, this.clock.now());
  }

  rememberTwoFactor(sessionId: string, fingerprint: string, until: Date): Promise<void> {
    return this.sessions.rememberTwoFactor(sessionId, fingerprint, until);
  }

  /** Whether the user opened a session from this user agent before `session` (the "new device" of the login alert). */
  async isKnownDevice(session: Session): Promise<boolean> {
    return this.sessions.seenUserAgent(session.userId, session.userAgent, session.id);
  }

  /**
   * Records use at most once a minute per session, without waiting: a write on every request
   * would double the cost of the hot path for a timestamp nobody needs to the second.
   */
  private touch(session: Session): void {
    const now = this.clock.now();
    if (session.lastUsedAt && now.getTime() - session.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    session.lastUsedAt = now;
    this.sessions.touch(session.id, now).catch(() => undefined);
  }

  private originFields(origin: SessionOrigin | undefined): Partial<Session> {
    if (!origin) return {};
    return {
      ip: origin.ip.slice(0, 64),
      userAgent: origin.userAgent.slice(0, 512),
      browser: origin.browser?.slice(0, 128) ?? null,
      os: origin.os?.slice(0, 128) ?? null,
    };
  }

  private async create(
    manager: EntityManager,
    fields: Partial<Session> & Pick<Session, 'userId' | 'kind'>,
  ): Promise<IssuedSession> {
    const token = randomToken();
    const session = Object.assign(new Session(), {
      id: randomId(),
      tokenHash: sha256Hex(token),
      lastTokenPart: fields.kind === 'personal' ? token.slice(-6) : null,
      name: null,
      bypassTwoFactor: false,
      twoFactorFingerprint: null,
      twoFactorUntil: null,
      accessGeneration: 0,
      ip: '',
      userAgent: '',
      browser: null,
      os: null,
      lastUsedAt: null,
      revokedAt: null,
      // The clock's time, not the database's: the login expiry is decided against the same clock.
      createdAt: this.clock.now(),
      ...fields,
    } satisfies Partial<Session>);
    await this.sessions.insert(manager, session);
    return { session, token };
  }
}
