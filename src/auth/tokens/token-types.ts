/**
 * The four JWTs of the Singularity-compatible surface, where each travels, and what each says.
 *
 * A token is read from its header when the request has one, else from its cookie. Like Singularity,
 * the `token_type` claim equals the cookie name, so a token of one type never passes as another.
 */

export type TokenType = 'access' | 'refresh' | 'step-up' | 'two-factor';

export const TOKEN_TYPES: readonly TokenType[] = ['access', 'refresh', 'step-up', 'two-factor'];

export interface TokenTransport {
  /** The cookie's name, also the JWT's `token_type` claim. */
  readonly cookie: string;
  /** The request header, as documented; Node hands it over lower-cased (see `headerKey`). */
  readonly header: string;
  /** Lower-cased `header`, the key in Node's `request.headers`. */
  readonly headerKey: string;
  /** `Authorization: Bearer <jwt>` when true; the bare JWT as the header's value when false. */
  readonly bearer: boolean;
}

export const TOKEN_TRANSPORT: Readonly<Record<TokenType, TokenTransport>> = {
  access: { cookie: 'access_token', header: 'Authorization', headerKey: 'authorization', bearer: true },
  // Read only on the refresh route; which route reads which type is the caller's choice.
  refresh: { cookie: 'refresh_token', header: 'Authorization', headerKey: 'authorization', bearer: true },
  'step-up': { cookie: 'step_up_token', header: 'X-Step-Up-Token', headerKey: 'x-step-up-token', bearer: false },
  'two-factor': {
    cookie: 'two_factor_authentication_token',
    header: 'X-Two-Factor-Authentication-Token',
    headerKey: 'x-two-factor-authentication-token',
    bearer: false,
  },
};

/** What a pending two-factor attempt is for; the same words as the challenge's purpose. */
export type TwoFactorTokenPurpose = 'login' | 'step_up';

export interface AccessTokenClaims {
  /** The user's id. */
  sub: string;
  /** The session's id. */
  session: string;
  /** A random id of this token (20 or more characters). */
  jti: string;
  /**
   * The session's access-token generation when the token was made: bumping the session's
   * generation revokes every access token it issued before.
   */
  gen: number;
}

export interface RefreshTokenClaims {
  sub: string;
  session: string;
  jti: string;
}

export interface StepUpTokenClaims {
  sub: string;
  session: string;
}

export interface TwoFactorTokenClaims {
  sub: string;
  /** The id of the pending login or step-up attempt: 64 lower-case hex characters. */
  challenge: string;
  purpose: TwoFactorTokenPurpose;
  /** The session a step-up belongs to. */
  session?: string;
}

export interface TokenClaimsByType {
  access: AccessTokenClaims;
  refresh: RefreshTokenClaims;
  'step-up': StepUpTokenClaims;
  'two-factor': TwoFactorTokenClaims;
}

export type TokenClaims<T extends TokenType> = TokenClaimsByType[T];

/** The claims a caller hands to `sign`: `jti` is made when left out. */
export type SignableClaims<T extends TokenType> = T extends 'access' | 'refresh'
  ? Omit<TokenClaimsByType[T], 'jti'> & { jti?: string }
  : TokenClaimsByType[T];

/** Set by `sign` from the Clock and the configured lifetime, in seconds since the epoch. */
export interface IssuedAtClaims {
  iat: number;
  /** `iat` plus the type's configured lifetime. */
  exp: number;
}

/** What `verify` returns: the type's claims plus `iat` and `exp`. */
export type VerifiedClaims<T extends TokenType> = TokenClaimsByType[T] & IssuedAtClaims;

export interface SignedToken<T extends TokenType> {
  token: string;
  expiresAt: Date;
  /** Everything the token says, `jti`, `iat` and `exp` included. */
  claims: VerifiedClaims<T>;
}
