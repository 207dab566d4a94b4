import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Clock } from '../../common/clock.js';
import { SecretKeys } from '../../common/secret-keys.js';
import { AppConfig } from '../../config/app-config.js';
import { clearTokenCookies, registerCookieSupport, setTokenCookie } from './token-cookies.js';
import { TokenError } from './token-error.js';
import { TOKEN_TYPES, TokenType } from './token-types.js';
import { TokenService } from './token.service.js';

const NOW = new Date('2001-02-03T04:05:06.000Z');

class FixedClock extends Clock {
  now(): Date {
    return new Date(NOW);
  }
}

/** The Set-Cookie headers of a light-my-request response, always as a list. */
const setCookies = (header: string | string[] | number | undefined): string[] =>
  header === undefined ? [] : Array.isArray(header) ? header : [String(header)];

describe('token cookies on a real Fastify instance', () => {
  let fastify: FastifyInstance;
  const tokens = new TokenService(
    new SecretKeys('a-secret-of-at-least-thirty-two-characters'),
    new FixedClock(),
    new AppConfig(),
  );

  beforeEach(async () => {
    // The instance Nest's adapter makes, as configureApp gets it from app.getHttpAdapter().getInstance().
    fastify = new FastifyAdapter().getInstance();
    await registerCookieSupport(fastify);
    fastify.get<{ Querystring: { type: TokenType; secure?: string; ms?: string } }>('/set', (request, reply) => {
      const { type, secure, ms } = request.query;
      const expiresAt = new Date(NOW.getTime() + Number(ms));
      setTokenCookie(reply, type, 'header.payload.signature', expiresAt, { secure: secure === '1', now: NOW });
      return { ok: true };
    });
    fastify.get<{ Querystring: { secure?: string } }>('/clear', (request, reply) => {
      clearTokenCookies(reply, { secure: request.query.secure === '1' });
      return { ok: true };
    });
    fastify.get('/me', (request) => {
      try {
        return { sub: tokens.read('access', request).sub };
      } catch (error) {
        if (error instanceof TokenError) return { reason: error.reason };
        throw error;
      }
    });
    await fastify.ready();
  });
  afterEach(() => fastify.close());

  it.each([
    ['access', 'access_token'],
    ['refresh', 'refresh_token'],
    ['step-up', 'step_up_token'],
    ['two-factor', 'two_factor_authentication_token'],
  ] as const)('sets the %s cookie %s: HttpOnly, SameSite=Strict, Path=/, Max-Age of the time left', async (type, name) => {
    const response = await fastify.inject({ url: '/set', query: { type, ms: String(900_000) } });
    expect(response.statusCode).toBe(200);
    expect(setCookies(response.headers['set-cookie'])).toEqual([
      `${name}=header.payload.signature; Max-Age=900; Path=/; HttpOnly; SameSite=Strict`,
    ]);
  });

  it('adds Secure when asked', async () => {
    const response = await fastify.inject({ url: '/set', query: { type: 'access', ms: '60000', secure: '1' } });
    expect(setCookies(response.headers['set-cookie'])).toEqual([
      'access_token=header.payload.signature; Max-Age=60; Path=/; HttpOnly; Secure; SameSite=Strict',
    ]);
  });

  it('rounds Max-Age down, and never below 0', async () => {
    const almost = await fastify.inject({ url: '/set', query: { type: 'access', ms: '899999' } });
    expect(setCookies(almost.headers['set-cookie'])[0]).toContain('; Max-Age=899;');
    const past = await fastify.inject({ url: '/set', query: { type: 'access', ms: '-5000' } });
    expect(setCookies(past.headers['set-cookie'])[0]).toContain('; Max-Age=0;');
  });

  it.each([false, true])('clears all four cookies with the same attributes (secure: %s)', async (secure) => {
    const response = await fastify.inject({ url: '/clear', query: secure ? { secure: '1' } : {} });
    const attributes = `Max-Age=0; Path=/; HttpOnly;${secure ? ' Secure;' : ''} SameSite=Strict`;
    expect(setCookies(response.headers['set-cookie'])).toEqual([
      `access_token=; ${attributes}`,
      `refresh_token=; ${attributes}`,
      `step_up_token=; ${attributes}`,
      `two_factor_authentication_token=; ${attributes}`,
    ]);
    expect(TOKEN_TYPES).toHaveLength(4);
  });

  it('request.cookies feeds TokenService.read; the Authorization header wins over the cookie', async () => {
    const cookieToken = tokens.sign('access', { sub: 'cookie-user', session: 's', gen: 0 }).token;
    const headerToken = tokens.sign('access', { sub: 'header-user', session: 's', gen: 0 }).token;
    const fromCookie = await fastify.inject({ url: '/me', cookies: { access_token: cookieToken } });
    expect(fromCookie.json()).toEqual({ sub: 'cookie-user' });
    const both = await fastify.inject({
      url: '/me',
      cookies: { access_token: cookieToken },
      headers: { authorization: `Bearer ${headerToken}` },
    });
    expect(both.json()).toEqual({ sub: 'header-user' });
    expect((await fastify.inject({ url: '/me' })).json()).toEqual({ reason: 'missing' });
    const wrongType = tokens.sign('refresh', { sub: 'cookie-user', session: 's' }).token;
    expect((await fastify.inject({ url: '/me', cookies: { access_token: wrongType } })).json()).toEqual({ reason: 'invalid' });
  });
});
