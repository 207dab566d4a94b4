import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../common/random.js';
import { REDACTED } from './log-redaction.js';
import { currentRequestId, secretsOf, withoutRequestSecrets, withRequestLogContext } from './request-secrets.js';

const line = (fields: Record<string, unknown>) =>
  `${JSON.stringify({ level: 'error', time: '2026-01-01T00:00:00.000Z', reqId: 'r1', ...fields })}\n`;

describe('secretsOf', () => {
  it("collects the request's credentials from headers, body and query, with their digests", () => {
    const secrets = secretsOf({
      headers: {
        'x-user-id': 'userid12345',
        'x-auth-token': 'login-token-value',
        'x-2fa-method': 'password',
        'x-2fa-code': '123-456',
        authorization: 'Bearer access.jwt.value',
        cookie: 'refresh_token=refresh-value; step_up_token=stepup-value; theme=dark',
        'user-agent': 'agent/1.0',
      },
      body: {
        user: 'alice',
        password: { digest: 'digest-of-password', algorithm: 'sha-256' },
        nested: { newPassword: 'new-password' },
        code: 654321,
      },
      query: { token: 'verification-token', locale: 'de' },
    });
    for (const secret of [
      'login-token-value',
      '123-456',
      '123456',
      'access.jwt.value',
      'refresh-value',
      'stepup-value',
      'digest-of-password',
      'new-password',
      '654321',
      'verification-token',
      sha256Hex('new-password'),
      sha256Hex('login-token-value'),
    ]) {
      expect(secrets.has(secret), secret).toBe(true);
    }
    for (const harmless of ['userid12345', 'password', 'alice', 'agent/1.0', 'de', 'dark']) {
      expect(secrets.has(harmless), harmless).toBe(false);
    }
  });

  it("takes surface 2's emailed code under `email`, but not an address", () => {
    expect(secretsOf({ headers: {}, body: { email: '123456' } }).has('123456')).toBe(true);
    expect(secretsOf({ headers: {}, body: { email: 'alice@example.com' } }).size).toBe(0);
  });

  it('ignores values too short to be credentials', () => {
    expect(secretsOf({ headers: { 'x-2fa-code': '12' }, body: { password: 'abc' } }).size).toBe(0);
  });
});

describe('withoutRequestSecrets', () => {
  const secrets = ['correct horse "battery"', 'token-value-1'];

  it("replaces the request's credentials as they appear in a JSON line, and keeps the line JSON", () => {
    const written = line({ msg: 'failed for token-value-1', err: { stack: 'Error: bad "correct horse "battery""' } });
    expect(written).toContain('correct horse \\"battery\\"');
    const cleaned = withoutRequestSecrets(written, secrets);
    expect(cleaned).not.toContain('token-value-1');
    expect(cleaned).not.toContain('battery');
    expect(JSON.parse(cleaned)).toMatchObject({ msg: `failed for ${REDACTED}`, err: { stack: `Error: bad "${REDACTED}"` } });
  });

  it('leaves a line without them untouched', () => {
    const written = line({ msg: 'nothing to see' });
    expect(withoutRequestSecrets(written, secrets)).toBe(written);
    expect(withoutRequestSecrets(written, undefined)).toBe(written);
  });

  it('withholds a line the replacement would break, rather than write the credential or broken JSON', () => {
    // Quotes are escaped inside JSON strings, so only a quote-free credential can match JSON's own text.
    const written = line({ status: 401, durationMs: 123456.5 });
    const cleaned = withoutRequestSecrets(written, ['123456.5}']);
    expect(cleaned).not.toContain('123456.5');
    expect(JSON.parse(cleaned)).toEqual({
      level: 'error',
      time: '2026-01-01T00:00:00.000Z',
      reqId: 'r1',
      msg: 'A log line was withheld: it held a credential of the request',
    });
  });

  it('knows the id and the credentials of the request in progress, and only there', async () => {
    const written = line({ msg: 'token-value-1 and new-password-1' });
    const request: { headers: Record<string, string>; body?: unknown } = { headers: { 'x-auth-token': 'token-value-1' } };
    const inside: Array<string | undefined> = [];
    await new Promise<void>((resolve) =>
      withRequestLogContext('r1', request, () => {
        setImmediate(() => {
          inside.push(currentRequestId(), withoutRequestSecrets(written));
          // The body is read after the first line was written: a later line knows its credentials too.
          request.body = { newPassword: 'new-password-1' };
          inside.push(withoutRequestSecrets(written));
          resolve();
        });
      }),
    );
    expect(inside[0]).toBe('r1');
    expect(inside[1]).not.toContain('token-value-1');
    expect(inside[1]).toContain('new-password-1');
    expect(inside[2]).not.toContain('new-password-1');
    expect(currentRequestId()).toBeUndefined();
    expect(withoutRequestSecrets(written)).toBe(written);
  });
});
