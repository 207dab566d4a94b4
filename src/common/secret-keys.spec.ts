import { describe, expect, it } from 'vitest';
import { decrypt, encrypt } from './aes-gcm.js';
import { constantTimeEqualHex, SecretKeys } from './secret-keys.js';

describe('SecretKeys', () => {
  const keys = new SecretKeys('a-secret-of-at-least-thirty-two-characters');

  it('derives a different 32-byte key per purpose, stable for one secret', () => {
    const codes = keys.key('code-hmac');
    expect(codes).toHaveLength(32);
    expect(codes.equals(keys.key('jwt-signing'))).toBe(false);
    expect(codes.equals(new SecretKeys('a-secret-of-at-least-thirty-two-characters').key('code-hmac'))).toBe(true);
    expect(codes.equals(new SecretKeys('another-secret-of-at-least-32-characters').key('code-hmac'))).toBe(false);
  });

  it('binds an HMAC to every part and their boundaries', () => {
    const base = keys.hmac('code-hmac', 'user1', 'two-factor', '123456');
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(keys.hmac('code-hmac', 'user2', 'two-factor', '123456')).not.toBe(base);
    expect(keys.hmac('code-hmac', 'user1', 'login', '123456')).not.toBe(base);
    expect(keys.hmac('code-hmac', 'ab', 'c')).not.toBe(keys.hmac('code-hmac', 'a', 'bc'));
  });

  it('compares hex digests without accepting different lengths or empty values', () => {
    const digest = keys.hmac('code-hmac', 'x');
    expect(constantTimeEqualHex(digest, digest)).toBe(true);
    expect(constantTimeEqualHex(digest, keys.hmac('code-hmac', 'y'))).toBe(false);
    expect(constantTimeEqualHex(digest, digest.slice(0, 62))).toBe(false);
    expect(constantTimeEqualHex('', '')).toBe(false);
    // Buffer.from(hex) stops at the first bad character: a suffix must not make a different string pass.
    expect(constantTimeEqualHex(digest, `${digest}x`)).toBe(false);
    expect(constantTimeEqualHex(`${digest.slice(0, 62)}zz`, `${digest.slice(0, 62)}yy`)).toBe(false);
  });
});

describe('AES-256-GCM', () => {
  const key = new SecretKeys('a-secret-of-at-least-thirty-two-characters').key('outbox-encryption');

  it('round-trips and never repeats a ciphertext', () => {
    const sealed = encrypt(key, 'code 123-456');
    expect(sealed).not.toContain('123-456');
    expect(encrypt(key, 'code 123-456')).not.toBe(sealed);
    expect(decrypt(key, sealed)).toBe('code 123-456');
  });

  it('rejects a tampered ciphertext or the wrong key', () => {
    const sealed = encrypt(key, 'secret');
    const parts = sealed.split('.');
    const tampered = [...parts.slice(0, 3), Buffer.from('other!').toString('base64url')].join('.');
    expect(() => decrypt(key, tampered)).toThrow();
    const otherKey = new SecretKeys('another-secret-of-at-least-32-characters').key('outbox-encryption');
    expect(() => decrypt(otherKey, sealed)).toThrow();
    expect(() => decrypt(key, 'garbage')).toThrow(/format/);
  });

  it('binds a ciphertext to its associated data', () => {
    const sealed = encrypt(key, 'JBSWY3DPEHPK3PXP', 'totp:user-a');
    expect(decrypt(key, sealed, 'totp:user-a')).toBe('JBSWY3DPEHPK3PXP');
    expect(() => decrypt(key, sealed, 'totp:user-b')).toThrow();
    expect(() => decrypt(key, sealed)).toThrow();
  });
});
