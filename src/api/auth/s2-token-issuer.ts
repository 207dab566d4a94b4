import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { clearTokenCookies, setTokenCookie } from '../../auth/tokens/token-cookies.js';
import type { TokenType, TwoFactorTokenPurpose } from '../../auth/tokens/token-types.js';
import { TOKEN_TRANSPORT } from '../../auth/tokens/token-types.js';
import { TokenService } from '../../auth/tokens/token.service.js';
import type { Session } from '../../auth/session.entity.js';
import { Clock } from '../../common/clock.js';
import { AppConfig } from '../../config/app-config.js';

/**
 * Surface 2's tokens on the wire: each signed, set as its HTTP-only cookie (Secure under an https
 * PUBLIC_URL) and returned for clients that send headers instead.
 */
@Injectable()
export class S2TokenIssuer {
  constructor(
    private readonly tokens: TokenService,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** Access and refresh tokens of a session; `refreshSecret` is the session's current refresh token id. */
  session(reply: FastifyReply, session: Session, refreshSecret: string): { accessToken: string; refreshToken: string } {
    const accessToken = this.issue(reply, 'access', { sub: session.userId, session: session.id, gen: session.accessGeneration });
    const refreshToken = this.issue(reply, 'refresh', { sub: session.userId, session: session.id, jti: refreshSecret });
    return { accessToken, refreshToken };
  }

  stepUp(reply: FastifyReply, session: Session): string {
    return this.issue(reply, 'step-up', { sub: session.userId, session: session.id });
  }

  twoFactor(
    reply: FastifyReply,
    userId: string,
    challengeId: string,
    purpose: TwoFactorTokenPurpose,
    sessionId?: string,
  ): string {
    return this.issue(reply, 'two-factor', {
      sub: userId,
      challenge: challengeId,
      purpose,
      ...(sessionId ? { session: sessionId } : {}),
    });
  }

  /** The pending-attempt cookie goes once the attempt is over. */
  clearTwoFactor(reply: FastifyReply): void {
    void reply.setCookie(TOKEN_TRANSPORT['two-factor'].cookie, '', {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      maxAge: 0,
      secure: this.config.cookieSecure,
    });
  }

  clearAll(reply: FastifyReply): void {
    clearTokenCookies(reply, { secure: this.config.cookieSecure });
  }

  private issue<T extends TokenType>(reply: FastifyReply, type: T, claims: Parameters<TokenService['sign']>[1] & object): string {
    const { token, expiresAt } = this.tokens.sign(type, claims as never);
    setTokenCookie(reply, type, token, expiresAt, { secure: this.config.cookieSecure, now: this.clock.now() });
    return token;
  }
}
