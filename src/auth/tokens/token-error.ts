import type { TokenType } from './token-types.js';

/**
 * - `missing`: the request carries no token of the type (neither header nor cookie).
 * - `expired`: a token of the right type, correctly signed and well formed, whose `exp` has passed.
 * - `invalid`: anything else (bad signature, another type, malformed, another algorithm or key).
 */
export type TokenErrorReason = 'missing' | 'invalid' | 'expired';

/**
 * Why a token was refused. Neither the message nor any property holds the token or what the JWT
 * library said about it (a parse error can quote the token's text); only the type and the reason.
 */
export class TokenError extends Error {
  constructor(
    readonly type: TokenType,
    readonly reason: TokenErrorReason,
  ) {
    super(`The ${type} token is ${reason}`);
    this.name = 'TokenError';
  }
}
