import { createSecretKey, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { JwtService, TokenExpiredError } from '@nestjs/jwt';
import { Clock } from '../../common/clock.js';
import { SecretKeys } from '../../common/secret-keys.js';
import { AppConfig } from '../../config/app-config.js';
import { TokenError } from './token-error.js';
import {
  SignableClaims,
  SignedToken,
  TOKEN_TRANSPORT,
  TokenClaimsByType,
  TokenType,
  TwoFactorTokenPurpose,
  VerifiedClaims,
} from './token-types.js';

/** The `kid` header of every token signed with `keys.key('jwt-signing')`; a new key gets a new id. */
export const SIGNING_KEY_ID = 'v1';
const ALGORITHM = 'HS256';
/** Longer than any token this service makes (a few hundred bytes); anything longer is not parsed. */
const MAX_TOKEN_LENGTH = 4096;
const MIN_JTI_LENGTH = 20;
const MAX_ID_LENGTH = 256;
const CHALLENGE_ID = /^[0-9a-f]{64}$/;
const TWO_FACTOR_PURPOSES: readonly TwoFactorTokenPurpose[] = ['login', 'step_up'];
const BEARER = /^Bearer +(\S+)$/i;

/** The part of a request a token is read from; a Fastify request (with @fastify/cookie) is one. */
export interface TokenCarrier {
  headers: Record<string, string | string[] | undefined>;
  cookies?: Record<string, string | undefined> | null;
}

type Claims = Record<string, unknown>;

const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
const isTimestamp = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/**
 * The type's own claims out of `payload`, or null when one is missing or malformed. Only the
 * known claims are copied, so what callers get is exactly what the types describe.
 */
function pickClaims<T extends TokenType>(type: T, payload: Claims): TokenClaimsByType[T] | null {
  const { sub, session, jti, gen, challenge, purpose } = payload;
  if (!isId(sub)) return null;
  const hasJti = typeof jti === 'string' && jti.length >= MIN_JTI_LENGTH && jti.length <= MAX_ID_LENGTH;
  let claims: TokenClaimsByType[TokenType] | null;
  switch (type) {
    case 'access':
      claims =
        isId(session) && hasJti && Number.isSafeInteger(gen) && (gen as number) >= 0
          ? { sub, session, jti, gen: gen as number }
          : null;
      break;
    case 'refresh':
      claims = isId(session) && hasJti ? { sub, session, jti } : null;
      break;
    case 'step-up':
      claims = isId(session) ? { sub, session } : null;
      break;
    case 'two-factor': {
      const validPurpose = TWO_FACTOR_PURPOSES.includes(purpose as TwoFactorTokenPurpose);
      const validSession = session === undefined || isId(session);
      claims =
        typeof challenge === 'string' && CHALLENGE_ID.test(challenge) && validPurpose && validSession
          ? { sub, challenge, purpose: purpose as TwoFactorTokenPurpose, ...(session === undefined ? {} : { session }) }
          : null;
      break;
    }
    default:
      claims = null;
  }
  return claims as TokenClaimsByType[T] | null;
}

/**
 * Signs and checks the Singularity surface's JWTs (HS256 with the HKDF key for 'jwt-signing').
 * Every time comes from the Clock: `iat` is set from it on signing, and expiry is judged against
 * it on verifying, so tests move time instead of waiting.
 */
@Injectable()
export class TokenService {
  private readonly jwt: JwtService;

  constructor(
    keys: SecretKeys,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {
    // Not the module-wide JwtService: this one holds the key and options no other caller may change.
    this.jwt = new JwtService({
      // A KeyObject, not the raw bytes: given bytes, jsonwebtoken first tries them as a public key
      // and catches the failure on every verify, which was an eighth of GET /api/auth/status.
      secret: createSecretKey(keys.key('jwt-signing')),
      signOptions: { algorithm: ALGORITHM, keyid: SIGNING_KEY_ID },
      verifyOptions: { algorithms: [ALGORITHM] },
    });
  }

  /** The lifetime, in seconds, of tokens of the type (from AppConfig). */
  ttlSeconds(type: TokenType): number {
    switch (type) {
      case 'access':
        return this.config.ACCESS_TOKEN_TTL_SECONDS;
      case 'refresh':
        return this.config.REFRESH_TOKEN_TTL_SECONDS;
      case 'step-up':
        return this.config.STEP_UP_TOKEN_TTL_SECONDS;
      case 'two-factor':
        return this.config.TWO_FACTOR_TOKEN_TTL_SECONDS;
    }
  }

  /**
   * A token of the type for `claims`, issued now (by the Clock) and expiring after the type's
   * configured lifetime. Access and refresh tokens get a random `jti` unless one is given.
   * Claims that `verify` would refuse are a programming error and throw a plain Error.
   */
  sign<T extends TokenType>(type: T, claims: SignableClaims<T>): SignedToken<T> {
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    const exp = iat + this.ttlSeconds(type);
    const withJti: Claims =
      type === 'access' || type === 'refresh'
        ? { ...claims, jti: (claims as { jti?: string }).jti ?? randomBytes(18).toString('base64url') }
        : { ...claims };
    const picked = pickClaims(type, withJti);
    if (!picked) throw new Error(`Refusing to sign a ${type} token: its claims are incomplete or malformed`);
    const token = this.jwt.sign({ ...picked, token_type: TOKEN_TRANSPORT[type].cookie, iat, exp });
    return { token, expiresAt: new Date(exp * 1000), claims: { ...picked, iat, exp } };
  }

  /**
   * The claims of `token` if it is a well-formed, correctly signed token of this type that has
   * not expired by the Clock. Throws TokenError: 'expired' only for a token that passes every
   * other check, 'invalid' for anything else.
   */
  verify<T extends TokenType>(type: T, token: string): VerifiedClaims<T> {
    // Built only when thrown: an error's stack trace is not free, and most tokens are good.
    const invalid = () => new TokenError(type, 'invalid');
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
    const clockTimestamp = Math.floor(this.clock.now().getTime() / 1000);
    let decoded: unknown;
    let expired = false;
    try {
      decoded = this.jwt.verify(token, { complete: true, clockTimestamp });
    } catch (error) {
      // The library's errors are not kept: a parse error's message can quote the token.
      if (!(error instanceof TokenExpiredError)) throw invalid();
      // Correctly signed but past `exp`: it is only 'expired' if it passes every other check too.
      try {
        decoded = this.jwt.verify(token, { complete: true, clockTimestamp, ignoreExpiration: true });
      } catch {
        throw invalid();
      }
      expired = true;
    }
    const { header, payload } = (decoded ?? {}) as { header?: Claims; payload?: unknown };
    if (header?.alg !== ALGORITHM || header.kid !== SIGNING_KEY_ID) throw invalid();
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid();
    const { token_type: tokenType, iat, exp } = payload as Claims;
    if (tokenType !== TOKEN_TRANSPORT[type].cookie || !isTimestamp(iat) || !isTimestamp(exp) || exp <= iat) throw invalid();
    const claims = pickClaims(type, payload as Claims);
    if (!claims) throw invalid();
    if (expired || clockTimestamp >= exp) throw new TokenError(type, 'expired');
    return { ...claims, iat, exp };
  }

  /**
   * The token of the type that the request carries, unverified: its header when present (the
   * header wins over the cookie), else its cookie. Throws TokenError 'missing' when there is
   * neither, 'invalid' when the header is malformed (Authorization that is not `Bearer <token>`,
   * or the header given more than once).
   */
  extract(type: TokenType, request: TokenCarrier): string {
    const transport = TOKEN_TRANSPORT[type];
    const header = this.singleHeader(type, request.headers[transport.headerKey]);
    if (header !== undefined) {
      if (!transport.bearer) return header;
      const bearer = BEARER.exec(header);
      if (!bearer?.[1]) throw new TokenError(type, 'invalid');
      return bearer[1];
    }
    const cookie = request.cookies?.[transport.cookie];
    if (typeof cookie === 'string' && cookie !== '') return cookie;
    throw new TokenError(type, 'missing');
  }

  /** Whether the request carries a token of the type (header or cookie), good or not: asked before `read` where its absence is normal. */
  carries(type: TokenType, request: TokenCarrier): boolean {
    const transport = TOKEN_TRANSPORT[type];
    if (request.headers[transport.headerKey] !== undefined) return true;
    const cookie = request.cookies?.[transport.cookie];
    return typeof cookie === 'string' && cookie !== '';
  }

  /** `extract` then `verify`: the verified claims of the request's token of this type. */
  read<T extends TokenType>(type: T, request: TokenCarrier): VerifiedClaims<T> {
    return this.verify(type, this.extract(type, request));
  }

  /** The header's one trimmed value; undefined when absent or empty (the cookie is then read). */
  private singleHeader(type: TokenType, value: string | string[] | undefined): string | undefined {
    if (Array.isArray(value)) {
      const present = value.map((item) => item.trim()).filter((item) => item !== '');
      // Two values: never guess which one the client meant.
      if (present.length > 1) throw new TokenError(type, 'invalid');
      return present[0];
    }
    const trimmed = value?.trim();
    return trimmed ? trimmed : undefined;
  }
}
