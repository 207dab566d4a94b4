import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isSecretKey, loggedError, REDACTED, redactLogFields, scrubErrorText, scrubText } from './log-redaction.js';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJ0eXAiOiJhY2Nlc3MifQ.c2lnbmF0dXJlLXZhbHVlLWhlcmU';
const HEX64 = 'a3f1c2e4b5d6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70';

describe('isSecretKey', () => {
  it('knows credentials by any part of their name, in any case', () => {
    for (const key of [
      'password',
      'newPassword',
      'currentPassword',
      'PASSWORD',
      'passwd',
      'pass',
      'code',
      'x-2fa-code',
      'backupCodes',
      'recoveryCodes',
      'token',
      'authToken',
      'x-auth-token',
      'refresh_token',
      'accessToken',
      'X-Step-Up-Token',
      'twoFactorAuthenticationToken',
      'authorization',
      'Authorization',
      'cookie',
      'set-cookie',
      'secret',
      'totpSecret',
      'APP_SECRET',
      'totp',
      'otp',
      'resume',
      'challengeId',
      'password_hash',
      'apiKey',
    ]) {
      expect(isSecretKey(key), key).toBe(true);
    }
  });

  it('leaves the fields that say what happened', () => {
    for (const key of [
      'userId',
      'x-user-id',
      'reqId',
      'method',
      'route',
      'status',
      'durationMs',
      'context',
      'msg',
      'email',
      'username',
      'x-2fa-method',
      'template',
      'passed',
      'compass',
    ]) {
      expect(isSecretKey(key), key).toBe(false);
    }
  });
});

describe('redactLogFields', () => {
  it('replaces the value of every secret field, at any depth and inside arrays, and copies', () => {
    const fields = {
      userId: 'u1',
      body: {
        user: 'alice',
        password: 'hunter2hunter2',
        nested: [{ code: '123456' }, { totp: { code: '654321', login: { user: 'x' } } }],
      },
      headers: { 'x-auth-token': 'tok', 'x-user-id': 'u1', cookie: 'refresh_token=abc', authorization: 'Bearer abc' },
    };
    const snapshot = structuredClone(fields);
    expect(redactLogFields(fields)).toEqual({
      userId: 'u1',
      body: { user: 'alice', password: REDACTED, nested: [{ code: REDACTED }, { totp: REDACTED }] },
      headers: { 'x-auth-token': REDACTED, 'x-user-id': 'u1', cookie: REDACTED, authorization: REDACTED },
    });
    expect(fields).toEqual(snapshot);
  });

  it('scrubs secret shapes out of every string value', () => {
    expect(redactLogFields({ url: `/verify?token=abcdef&lang=de`, note: `sent ${JWT}` })).toEqual({
      url: `/verify?token=${REDACTED}&lang=de`,
      note: `sent ${REDACTED}`,
    });
  });

  it('reduces errors to type, message, stack and a code, never their other fields', () => {
    const error = Object.assign(new Error('boom'), { code: 'ECONNREFUSED', parameters: ['hunter2hunter2'], query: 'SELECT 1' });
    const { err } = redactLogFields({ err: error }) as { err: Record<string, unknown> };
    expect(Object.keys(err).sort()).toEqual(['code', 'message', 'stack', 'type']);
    expect(err).toMatchObject({ type: 'Error', message: 'boom', code: 'ECONNREFUSED' });
    expect(JSON.stringify(err)).not.toContain('hunter2hunter2');
  });

  it('survives cycles, depth, buffers and request objects without dumping them', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i++) deep = { deep };
    const request = new IncomingMessage(new Socket());
    request.method = 'POST';
    request.url = '/api/v1/login?token=abc';
    request.headers = { 'x-auth-token': 'secret-token-value', cookie: 'a=b' };
    const result = redactLogFields({
      cyclic,
      deep,
      buffer: Buffer.from('secret'),
      request,
      when: new Date(0),
      fn: () => 1,
      none: undefined,
    });
    expect(result.cyclic).toEqual({ name: 'loop', self: '[Circular]' });
    expect(JSON.stringify(result.deep)).toContain('[Too deep]');
    expect(result.buffer).toBe('[Buffer of 6 bytes]');
    expect(result.request).toEqual({ method: 'POST', path: '/api/v1/login' });
    expect(result.when).toEqual(new Date(0));
    expect(result).not.toHaveProperty('fn');
    expect(result).not.toHaveProperty('none');
    expect(JSON.stringify(result)).not.toContain('secret-token-value');
  });
});

describe('scrubText', () => {
  it('removes credentials in URLs, authorization values, JWTs and secret parameters', () => {
    expect(scrubText('connect to postgres://tfa:s3cr3t-pw@db:5432/tfa failed')).toBe(
      `connect to postgres://tfa:${REDACTED}@db:5432/tfa failed`,
    );
    expect(scrubText('smtps://mailer:p%40ss@smtp.example.com')).toBe(`smtps://mailer:${REDACTED}@smtp.example.com`);
    expect(scrubText('Authorization: Bearer abc.def-ghi')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(scrubText(`token ${JWT} refused`)).toBe(`token ${REDACTED} refused`);
    expect(scrubText('GET /verify-email?token=AbC123_-x&locale=de')).toBe(`GET /verify-email?token=${REDACTED}&locale=de`);
    expect(scrubText('password=hunter2 code=123456 x-2fa-code=654321')).toBe(
      `password=${REDACTED} code=${REDACTED} x-2fa-code=${REDACTED}`,
    );
    expect(scrubText('{"user":"a","password":"hu\\"nter2","refreshToken":"r"}')).toBe(
      `{"user":"a","password":"${REDACTED}","refreshToken":"${REDACTED}"}`,
    );
  });

  it("leaves the service's own messages as they are", () => {
    for (const message of [
      'Mail written to /tmp/tfa-data/mail/2026-01-01T12-00-00-000Z-42.eml',
      'Delivered message 42 (email-code, attempt 1)',
      'Retention deleted email_codes=12 challenges=3 mail_outbox=40 audit_events=0 (7 batches, 18 ms)',
      'Retention deleted {"email_codes":3,"challenges":0} (1 batches, 12 ms)',
      'Retention job off in this instance (RETENTION_INTERVAL_SECONDS=0)',
      'Listening on http://127.0.0.1:3000 (public URL http://127.0.0.1:3000)',
      'the cluster is in /var/lib/two-factor-service/0123456789abcdef0123456789abcdef/pg, because the postgres system user cannot reach it',
      'second_factor_verified (success) user 7Hk2mPq9xYzAbCdEf method totp',
      'Shutdown: SIGTERM received, draining HTTP requests',
    ]) {
      expect(scrubText(message)).toBe(message);
    }
  });
});

describe('scrubErrorText', () => {
  it('removes what a library may quote from the request', () => {
    expect(scrubErrorText('invalid input syntax for type uuid: "hunter2hunter2"')).toBe(
      `invalid input syntax for type uuid: "${REDACTED}"`,
    );
    expect(scrubErrorText('Key (token_hash)=(9f86d081884c7d65) already exists.')).toBe(
      `Key (token_hash)=(${REDACTED}) already exists.`,
    );
    expect(scrubErrorText(`digest ${HEX64} did not match`)).toBe(`digest ${REDACTED} did not match`);
    expect(scrubErrorText('code 123456 and 654-321 refused')).toBe(`code ${REDACTED} and ${REDACTED} refused`);
    expect(scrubErrorText('secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP, backup 7K3M9QW2XZ, token q1w2e3r4t5y6u7i8o9p0AZ-_x')).toBe(
      `secret ${REDACTED}, backup ${REDACTED}, token ${REDACTED}`,
    );
    expect(scrubErrorText(`Unexpected token 'x', "{"password":"hunter2hunter2"" is not valid JSON`)).not.toContain(
      'hunter2hunter2',
    );
  });

  it('keeps a plain message readable', () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'connect ECONNREFUSED 127.0.0.1:5432',
      "Cannot read properties of undefined (reading 'id')",
    ]) {
      expect(scrubErrorText(message)).toBe(message);
    }
  });
});

describe('loggedError', () => {
  it('scrubs the message and the head of the stack, keeps the frames, and follows causes', () => {
    const cause = new Error('inner "hunter2hunter2"');
    const error = new Error('outer 123456', { cause });
    const logged = loggedError(error);
    expect(logged.message).toBe(`outer ${REDACTED}`);
    expect(logged.stack?.split('\n')[0]).toBe(`Error: outer ${REDACTED}`);
    expect(logged.stack).toMatch(/\n\s+at /);
    expect(logged.stack).toContain('log-redaction.spec.ts');
    expect(logged.cause?.message).toBe(`inner "${REDACTED}"`);
    expect(JSON.stringify(logged)).not.toMatch(/hunter2hunter2|123456/);
  });

  it('keeps a code only when it looks like one (ECONNRESET, 57P01), never a value stored under `code`', () => {
    expect(loggedError(Object.assign(new Error('x'), { code: '57P01' })).code).toBe('57P01');
    expect(loggedError(Object.assign(new Error('x'), { code: '123-456 is the code' })).code).toBeUndefined();
    expect(loggedError(Object.assign(new Error('x'), { code: 42 })).code).toBeUndefined();
  });

  it('names the type of errors without a name', () => {
    class QueryFailedError extends Error {}
    expect(loggedError(new QueryFailedError('x')).type).toBe('Error');
    const named = new QueryFailedError('x');
    named.name = 'QueryFailedError';
    expect(loggedError(named).type).toBe('QueryFailedError');
  });
});
