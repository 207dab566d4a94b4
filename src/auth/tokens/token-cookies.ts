import fastifyCookie from '@fastify/cookie';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TOKEN_TRANSPORT, TOKEN_TYPES, TokenType } from './token-types.js';

export interface TokenCookieOptions {
  /** Add `Secure` (AppConfig.cookieSecure: PUBLIC_URL is https). */
  secure: boolean;
}

export interface SetTokenCookieOptions extends TokenCookieOptions {
  /** The Clock's now: Max-Age is the time left from it until `expiresAt`. */
  now: Date;
}

/**
 * Registers @fastify/cookie (parses `request.cookies`, adds `reply.setCookie`). Cookies are neither
 * signed nor encrypted: the JWTs inside carry their own signature.
 */
export async function registerCookieSupport(fastify: FastifyInstance): Promise<void> {
  await fastify.register(fastifyCookie);
}

const attributes = (secure: boolean, maxAge: number): CookieSerializeOptions => ({
  httpOnly: true,
  sameSite: 'strict',
  path: '/',
  maxAge,
  secure,
});

/**
 * Puts `token` in the type's cookie: `HttpOnly; SameSite=Strict; Path=/; Max-Age=<seconds left>`,
 * plus `Secure` when asked. Max-Age is rounded down so the cookie never outlives the token.
 */
export function setTokenCookie(
  reply: FastifyReply,
  type: TokenType,
  token: string,
  expiresAt: Date,
  { secure, now }: SetTokenCookieOptions,
): FastifyReply {
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
  return reply.setCookie(TOKEN_TRANSPORT[type].cookie, token, attributes(secure, maxAge));
}

/** Clears the four token cookies: empty value, `Max-Age=0`, the attributes they were set with. */
export function clearTokenCookies(reply: FastifyReply, { secure }: TokenCookieOptions): FastifyReply {
  for (const type of TOKEN_TYPES) reply.setCookie(TOKEN_TRANSPORT[type].cookie, '', attributes(secure, 0));
  return reply;
}
