import { createHmac } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { Clock } from '../../common/clock.js';
import { SecretKeys } from '../../common/secret-keys.js';
import { AppConfig } from '../../config/app-config.js';
import { TokenError, TokenErrorReason } from './token-error.js';
import { TOKEN_TRANSPORT, TOKEN_TYPES, TokenType, SignableClaims, TokenClaimsByType } from './token-types.js';
import { SIGNING_KEY_ID, TokenCarrier, TokenService } from './token.service.js';

const SECRET = 'a-secret-of-at-least-thirty-two-characters';
const START = new Date('2001-02-03T04:05:06.789Z');
const START_SECONDS = Math.floor(START.getTime() / 1000);
const CHALLENGE = 'ab'.repeat(32);

/** A clock the test moves by hand; far in the past, so real time can never decide an expiry. */
class MovableClock extends Clock {
  current = new Date(START);
  now(): Date {
    return new Date(this.current);
  }
  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}

const CLAIMS: { [T in TokenType]: SignableClaims<T> } = {
  access: { sub: 'user-1', session: 'session-1', gen: 3 },
  refresh: { sub: 'user-1', session: 'session-1' },
  'step-up': { sub: 'user-1', session: 'session-1' },
  'two-factor': { sub: 'user-1', challenge: CHALLENGE, purpose: 'login' },
};

const TTL: Record<TokenType, number> = { access: 120, refresh: 3600, 'step-up': 300, 'two-factor': 600 };

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const decodePart = (token: string, index: 0 | 1): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/** The TokenError `action` throws (fails the test if it throws nothing or something else). */
function tokenError(action: () => unknown): TokenError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TokenError);
    return error as TokenError;
  }
  throw new Error('no TokenError was thrown');
}

function expectRefused(action: () => unknown, type: TokenType, reason: TokenErrorReason, token?: string): void {
  const error = tokenError(action);
  expect({ type: error.type, reason: error.reason }).toEqual({ type, reason });
  if (token) {
    expect(error.message).not.toContain(token);
    expect(String(error.stack)).not.toContain(token);
    expect(JSON.stringify(error)).not.toContain(token);
  }
}

describe('TokenService', () => {
  let clock: MovableClock;
  let config: AppConfig;
  let tokens: TokenService;
  const key = new SecretKeys(SECRET).key('jwt-signing');
  /** Signs any payload and header with the real key, for tokens TokenService itself would never make. */
  const forge = (payload: object, options: { keyid?: string; algorithm?: 'HS256' | 'HS512'; secret?: Buffer } = {}) =>
    new JwtService({ secret: options.secret ?? key }).sign(payload, {
      algorithm: options.algorithm ?? 'HS256',
      ...(options.keyid === undefined ? {} : { keyid: options.keyid }),
    });
  /** A hand-made HS256 token, for payloads the JWT library refuses to sign (a string exp). */
  const forgeRaw = (payload: object): string => {
    const signingInput = `${base64url({ alg: 'HS256', typ: 'JWT', kid: SIGNING_KEY_ID })}.${base64url(payload)}`;
    return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
  };
  const validPayload = (type: TokenType = 'access'): Record<string, unknown> => ({
    sub: 'user-1',
    session: 'session-1',
    jti: 'j'.repeat(24),
    gen: 0,
    challenge: CHALLENGE,
    purpose: 'login',
    token_type: TOKEN_TRANSPORT[type].cookie,
    iat: START_SECONDS,
    exp: START_SECONDS + 60,
  });

  beforeEach(() => {
    clock = new MovableClock();
    config = Object.assign(new AppConfig(), {
      ACCESS_TOKEN_TTL_SECONDS: TTL.access,
      REFRESH_TOKEN_TTL_SECONDS: TTL.refresh,
      STEP_UP_TOKEN_TTL_SECONDS: TTL['step-up'],
      TWO_FACTOR_TOKEN_TTL_SECONDS: TTL['two-factor'],
    });
    tokens = new TokenService(new SecretKeys(SECRET), clock, config);
  });

  it('is built by Nest from SecretKeys, Clock and AppConfig', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [
        TokenService,
        { provide: SecretKeys, useValue: new SecretKeys(SECRET) },
        { provide: Clock, useValue: clock },
        { provide: AppConfig, useValue: config },
      ],
    }).compile();
    const injected = moduleRef.get(TokenService);
    const { token } = injected.sign('access', CLAIMS.access);
    expect(tokens.verify('access', token).sub).toBe('user-1');
    clock.advance(TTL.access);
    expectRefused(() => injected.verify('access', token), 'access', 'expired');
  });

  describe('sign and verify', () => {
    it.each(TOKEN_TYPES)('round-trips a %s token, expiring after its configured lifetime', (type) => {
      const signed = tokens.sign(type, CLAIMS[type]);
      const expected = { ...CLAIMS[type], iat: START_SECONDS, exp: START_SECONDS + TTL[type] };
      expect(signed.claims).toMatchObject(expected);
      expect(signed.expiresAt).toEqual(new Date((START_SECONDS + TTL[type]) * 1000));
      expect(tokens.verify(type, signed.token)).toEqual(signed.claims);
      expect(decodePart(signed.token, 0)).toEqual({ alg: 'HS256', typ: 'JWT', kid: SIGNING_KEY_ID });
      expect(decodePart(signed.token, 1)).toMatchObject({ ...expected, token_type: TOKEN_TRANSPORT[type].cookie });
    });

    it('uses the lifetime from AppConfig', () => {
      config.ACCESS_TOKEN_TTL_SECONDS = 900;
      expect(tokens.sign('access', CLAIMS.access).claims.exp).toBe(START_SECONDS + 900);
      expect(tokens.ttlSeconds('refresh')).toBe(TTL.refresh);
    });

    it('gives access and refresh tokens a fresh random jti unless one is given', () => {
      const first = tokens.sign('access', CLAIMS.access).claims.jti;
      const second = tokens.sign('access', CLAIMS.access).claims.jti;
      const refresh = tokens.sign('refresh', CLAIMS.refresh).claims.jti;
      for (const jti of [first, second, refresh]) expect(jti).toMatch(/^[\w-]{20,}$/);
      expect(new Set([first, second, refresh]).size).toBe(3);
      const given = 'given-jti-0123456789abcdef';
      const { token } = tokens.sign('refresh', { ...CLAIMS.refresh, jti: given });
      expect(tokens.verify('refresh', token).jti).toBe(given);
    });

    it('carries a step-up two-factor token with its session', () => {
      const claims: TokenClaimsByType['two-factor'] = { sub: 'u', challenge: CHALLENGE, purpose: 'step_up', session: 's' };
      const { token } = tokens.sign('two-factor', claims);
      expect(tokens.verify('two-factor', token)).toEqual({ ...claims, iat: START_SECONDS, exp: START_SECONDS + 600 });
      expect(tokens.verify('two-factor', tokens.sign('two-factor', CLAIMS['two-factor']).token)).not.toHaveProperty('session');
    });

    it('returns only the type’s claims, not extra ones a token carries', () => {
      const token = forge({ ...validPayload('step-up'), role: 'admin' }, { keyid: SIGNING_KEY_ID });
      expect(tokens.verify('step-up', token)).toEqual({
        sub: 'user-1',
        session: 'session-1',
        iat: START_SECONDS,
        exp: START_SECONDS + 60,
      });
    });

    it.each([
      ['access', { sub: 'u', session: 's', gen: -1 }],
      ['access', { sub: 'u', session: 's', gen: 1.5 }],
      ['access', { sub: 'u', session: 's', gen: 0, jti: 'too-short' }],
      ['refresh', { sub: '', session: 's' }],
      ['step-up', { sub: 'u' }],
      ['two-factor', { sub: 'u', challenge: 'AB'.repeat(32), purpose: 'login' }],
      ['two-factor', { sub: 'u', challenge: CHALLENGE, purpose: 'other' }],
    ] as [TokenType, object][])('refuses to sign a %s token with malformed claims %j', (type, claims) => {
      expect(() => tokens.sign(type, claims as never)).toThrow(/Refusing to sign/);
    });
  });

  describe('expiry follows the injected Clock', () => {
    it.each(TOKEN_TYPES)('a %s token is valid until the last second, expired from exp on', (type) => {
      const { token } = tokens.sign(type, CLAIMS[type]);
      clock.advance(TTL[type] - 1);
      expect(tokens.verify(type, token).sub).toBe('user-1');
      clock.advance(1);
      expectRefused(() => tokens.verify(type, token), type, 'expired', token);
      clock.advance(365 * 86_400);
      expectRefused(() => tokens.verify(type, token), type, 'expired', token);
    });

    it('a token made now by real time is expired for a clock that is far ahead', () => {
      const { token } = tokens.sign('access', CLAIMS.access);
      expect(tokens.verify('access', token).sub).toBe('user-1');
      clock.current = new Date();
      expectRefused(() => tokens.verify('access', token), 'access', 'expired');
    });

    it('an expired token of another type is invalid, not expired', () => {
      const { token } = tokens.sign('refresh', CLAIMS.refresh);
      clock.advance(TTL.refresh);
      expectRefused(() => tokens.verify('refresh', token), 'refresh', 'expired');
      expectRefused(() => tokens.verify('access', token), 'access', 'invalid');
    });

    it('an expired token that is otherwise unacceptable is invalid, not expired', () => {
      const past = { ...validPayload(), exp: START_SECONDS - 1, iat: START_SECONDS - 100 };
      expectRefused(() => tokens.verify('access', forge(past, { keyid: SIGNING_KEY_ID })), 'access', 'expired');
      expectRefused(() => tokens.verify('access', forge(past, { keyid: 'v0' })), 'access', 'invalid');
      expectRefused(() => tokens.verify('access', forge({ ...past, gen: 'x' }, { keyid: SIGNING_KEY_ID })), 'access', 'invalid');
      const otherKey = new SecretKeys('another-secret-of-at-least-32-characters').key('jwt-signing');
      expectRefused(() => tokens.verify('access', forge(past, { keyid: SIGNING_KEY_ID, secret: otherKey })), 'access', 'invalid');
    });
  });

  describe('refuses as invalid', () => {
    const pairs = TOKEN_TYPES.flatMap((signedAs) =>
      TOKEN_TYPES.filter((readAs) => readAs !== signedAs).map((readAs) => [signedAs, readAs] as const),
    );

    it.each(pairs)('a %s token read as a %s token', (signedAs, readAs) => {
      const { token } = tokens.sign(signedAs, CLAIMS[signedAs]);
      expectRefused(() => tokens.verify(readAs, token), readAs, 'invalid', token);
    });

    it('the hand-made tokens of these tests pass when nothing is wrong with them', () => {
      expect(tokens.verify('access', forgeRaw(validPayload())).gen).toBe(0);
    });

    it('a token whose only fault is its token_type (every claim of both types present)', () => {
      const token = forge(validPayload('refresh'), { keyid: SIGNING_KEY_ID });
      expect(tokens.verify('refresh', token).sub).toBe('user-1');
      expectRefused(() => tokens.verify('access', token), 'access', 'invalid');
      const typeless = { ...validPayload() };
      delete typeless.token_type;
      expectRefused(() => tokens.verify('access', forge(typeless, { keyid: SIGNING_KEY_ID })), 'access', 'invalid');
    });

    it('a tampered payload', () => {
      const { token } = tokens.sign('access', CLAIMS.access);
      const [header, , signature] = token.split('.');
      const payload = { ...decodePart(token, 1), sub: 'admin' };
      const tampered = `${header}.${base64url(payload)}.${signature}`;
      expectRefused(() => tokens.verify('access', tampered), 'access', 'invalid', tampered);
    });

    it('a tampered signature', () => {
      const { token } = tokens.sign('access', CLAIMS.access);
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
      for (const bad of [`${header}.${payload}.${flipped}`, `${header}.${payload}.`, `${header}.${payload}`]) {
        expectRefused(() => tokens.verify('access', bad), 'access', 'invalid', bad);
      }
    });

    it('an unsigned token (alg none), with or without a signature', () => {
      const header = base64url({ alg: 'none', typ: 'JWT', kid: SIGNING_KEY_ID });
      const { token } = tokens.sign('access', CLAIMS.access);
      const [, payload, signature] = token.split('.');
      for (const bad of [`${header}.${payload}.`, `${header}.${payload}.${signature}`]) {
        expectRefused(() => tokens.verify('access', bad), 'access', 'invalid', bad);
      }
    });

    it('a token signed with another secret or another purpose’s key', () => {
      const otherSecret = new TokenService(new SecretKeys('another-secret-of-at-least-32-characters'), clock, config);
      const signed = otherSecret.sign('access', CLAIMS.access).token;
      expectRefused(() => tokens.verify('access', signed), 'access', 'invalid', signed);
      const codeKey = new SecretKeys(SECRET).key('code-hmac');
      expectRefused(
        () => tokens.verify('access', forge(validPayload(), { keyid: SIGNING_KEY_ID, secret: codeKey })),
        'access',
        'invalid',
      );
      expect(tokens.verify('access', forge(validPayload(), { keyid: SIGNING_KEY_ID })).sub).toBe('user-1');
    });

    it('another algorithm or key id, even with the right key', () => {
      for (const bad of [
        forge(validPayload(), { keyid: SIGNING_KEY_ID, algorithm: 'HS512' }),
        forge(validPayload(), { keyid: 'v2' }),
        forge(validPayload()),
      ]) {
        expectRefused(() => tokens.verify('access', bad), 'access', 'invalid', bad);
      }
    });

    it.each([
      ['sub', { sub: undefined }],
      ['session', { session: undefined }],
      ['jti', { jti: undefined }],
      ['a short jti', { jti: 'short' }],
      ['gen', { gen: undefined }],
      ['a fractional gen', { gen: 0.5 }],
      ['a string gen', { gen: '1' }],
      ['iat', { iat: undefined }],
      ['exp', { exp: undefined }],
      ['an exp before iat', { exp: START_SECONDS - 10 }],
      ['a string exp', { exp: String(START_SECONDS + 60) }],
      ['a string iat', { iat: String(START_SECONDS) }],
    ])('an access token with a missing or malformed claim: %s', (_name, change) => {
      const payload: Record<string, unknown> = { ...validPayload(), ...change };
      for (const [name, value] of Object.entries(change)) if (value === undefined) delete payload[name];
      const token = forgeRaw(payload);
      expectRefused(() => tokens.verify('access', token), 'access', 'invalid', token);
    });

    it.each([
      ['challenge', { challenge: undefined }],
      ['an upper-case challenge', { challenge: CHALLENGE.toUpperCase() }],
      ['a short challenge', { challenge: 'ab' }],
      ['purpose', { purpose: undefined }],
      ['another purpose', { purpose: 'signup' }],
      ['a non-string session', { session: 7 }],
    ])('a two-factor token with a missing or malformed claim: %s', (_name, change) => {
      const payload: Record<string, unknown> = { ...validPayload('two-factor'), ...change };
      for (const [name, value] of Object.entries(change)) if (value === undefined) delete payload[name];
      const token = forge(payload, { keyid: SIGNING_KEY_ID });
      expectRefused(() => tokens.verify('two-factor', token), 'two-factor', 'invalid', token);
    });

    it('malformed tokens', () => {
      const { token } = tokens.sign('access', CLAIMS.access);
      const stringPayload = new JwtService({ secret: key }).sign('just a string', { secret: key });
      for (const bad of ['', 'abc', 'a.b.c', '...', `${token}.x`, `x${token}`, token.replace(/\./g, ''), stringPayload]) {
        expectRefused(() => tokens.verify('access', bad), 'access', 'invalid', bad || undefined);
      }
      expectRefused(() => tokens.verify('access', `${token}${'A'.repeat(5000)}`), 'access', 'invalid');
      expectRefused(() => tokens.verify('access', undefined as unknown as string), 'access', 'invalid');
    });
  });

  describe('read: the header wins over the cookie', () => {
    const request = (headers: TokenCarrier['headers'], cookies?: TokenCarrier['cookies']): TokenCarrier => ({
      headers,
      cookies,
    });

    it('reads each type from its own header and cookie', () => {
      for (const type of TOKEN_TYPES) {
        const { token } = tokens.sign(type, CLAIMS[type]);
        const { header, headerKey, bearer, cookie } = TOKEN_TRANSPORT[type];
        expect(header.toLowerCase()).toBe(headerKey);
        const headerValue = bearer ? `Bearer ${token}` : token;
        expect(tokens.read(type, request({ [headerKey]: headerValue })).sub).toBe('user-1');
        expect(tokens.read(type, request({}, { [cookie]: token })).sub).toBe('user-1');
        expect(tokens.extract(type, request({ [headerKey]: headerValue }))).toBe(token);
      }
    });

    it('the header is used when both are there, even when the cookie’s token is fine and the header’s is not', () => {
      const fromHeader = tokens.sign('access', { ...CLAIMS.access, sub: 'header-user' }).token;
      const fromCookie = tokens.sign('access', { ...CLAIMS.access, sub: 'cookie-user' }).token;
      const both = request({ authorization: `Bearer ${fromHeader}` }, { access_token: fromCookie });
      expect(tokens.read('access', both).sub).toBe('header-user');
      const badHeader = request({ authorization: 'Bearer nonsense' }, { access_token: fromCookie });
      expectRefused(() => tokens.read('access', badHeader), 'access', 'invalid');
      const stepUp = tokens.sign('step-up', { sub: 'header-user', session: 's' }).token;
      const stepUpCookie = tokens.sign('step-up', { sub: 'cookie-user', session: 's' }).token;
      expect(tokens.read('step-up', request({ 'x-step-up-token': stepUp }, { step_up_token: stepUpCookie })).sub).toBe(
        'header-user',
      );
    });

    it('missing when neither header nor cookie holds one', () => {
      const other = tokens.sign('access', CLAIMS.access).token;
      for (const carrier of [
        request({}),
        request({}, null),
        request({}, {}),
        request({ authorization: '', 'x-step-up-token': '  ' }, { access_token: '', step_up_token: '' }),
        request({ authorization: [] }),
        // Another type's header or cookie is not this type's.
        request({ 'x-step-up-token': other }, { access_token: other, refresh_token: other }),
      ]) {
        expectRefused(() => tokens.read('two-factor', carrier), 'two-factor', 'missing');
        expectRefused(() => tokens.extract('two-factor', carrier), 'two-factor', 'missing');
      }
      expectRefused(() => tokens.read('access', request({ authorization: '' }, { access_token: '' })), 'access', 'missing');
    });

    it('carries: false only where extract finds nothing, so asking it first never hides a token', () => {
      const { token } = tokens.sign('step-up', CLAIMS['step-up']);
      const carriers = [
        request({}),
        request({}, null),
        request({}, { step_up_token: '' }),
        request({ authorization: `Bearer ${token}` }, { access_token: token }),
        request({ 'x-step-up-token': token }),
        request({ 'x-step-up-token': '  ' }),
        request({}, { step_up_token: token }),
        request({ 'x-step-up-token': 'nonsense' }),
      ];
      const answers = carriers.map((carrier) => {
        const extracted = (() => {
          try {
            return tokens.extract('step-up', carrier);
          } catch {
            return null;
          }
        })();
        return { carries: tokens.carries('step-up', carrier), extracted: extracted !== null };
      });
      for (const { carries, extracted } of answers) if (extracted) expect(carries).toBe(true);
      expect(answers.map((answer) => answer.carries)).toEqual([false, false, false, false, true, true, true, true]);
    });

    it('an empty header falls back to the cookie', () => {
      const { token } = tokens.sign('access', CLAIMS.access);
      expect(tokens.read('access', request({ authorization: ' ' }, { access_token: token })).sub).toBe('user-1');
    });

    it('parses Authorization: Bearer <token> and refuses any other shape as invalid', () => {
      const { token } = tokens.sign('access', CLAIMS.access);
      for (const good of [`Bearer ${token}`, `bearer ${token}`, `BEARER  ${token}`, ` Bearer ${token} `]) {
        expect(tokens.extract('access', request({ authorization: good }))).toBe(token);
      }
      for (const bad of [
        token,
        `Basic ${token}`,
        'Bearer',
        'Bearer ',
        `Bearer ${token} extra`,
        `Bearer:${token}`,
        `Token ${token}`,
      ]) {
        expectRefused(() => tokens.read('access', request({ authorization: bad })), 'access', 'invalid', token);
      }
    });

    it('takes the raw token from X-Step-Up-Token and X-Two-Factor-Authentication-Token, without Bearer', () => {
      const stepUp = tokens.sign('step-up', CLAIMS['step-up']).token;
      expect(tokens.read('step-up', request({ 'x-step-up-token': ` ${stepUp} ` })).session).toBe('session-1');
      expectRefused(() => tokens.read('step-up', request({ 'x-step-up-token': `Bearer ${stepUp}` })), 'step-up', 'invalid');
      const twoFactor = tokens.sign('two-factor', CLAIMS['two-factor']).token;
      const header = { 'x-two-factor-authentication-token': twoFactor };
      expect(tokens.read('two-factor', request(header)).challenge).toBe(CHALLENGE);
    });

    it('handles header values given as arrays', () => {
      const { token } = tokens.sign('step-up', CLAIMS['step-up']);
      const other = tokens.sign('step-up', { sub: 'someone-else', session: 's' }).token;
      expect(tokens.read('step-up', request({ 'x-step-up-token': [token] })).sub).toBe('user-1');
      expect(
        tokens.read('access', request({ authorization: [`Bearer ${tokens.sign('access', CLAIMS.access).token}`] })).gen,
      ).toBe(3);
      expectRefused(() => tokens.read('step-up', request({ 'x-step-up-token': [token, other] })), 'step-up', 'invalid');
      expect(tokens.read('step-up', request({ 'x-step-up-token': [] }, { step_up_token: other })).sub).toBe('someone-else');
    });

    it('reports an expired token read from a request as expired', () => {
      const { token } = tokens.sign('access', CLAIMS.access);
      clock.advance(TTL.access);
      expectRefused(() => tokens.read('access', request({}, { access_token: token })), 'access', 'expired', token);
    });
  });
});
