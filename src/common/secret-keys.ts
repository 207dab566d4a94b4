import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export type KeyPurpose = 'code-hmac' | 'totp-encryption' | 'jwt-signing' | 'outbox-encryption' | 'totp-setup-token';

/**
 * Separate keys derived from APP_SECRET with HKDF, one per use, so a key leaked or misused in one
 * place (say a JWT library) does not open the others.
 */
export class SecretKeys {
  private readonly keys = new Map<KeyPurpose, Buffer>();

  constructor(private readonly appSecret: string) {}

  key(purpose: KeyPurpose): Buffer {
    let key = this.keys.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.appSecret, 'two-factor-service', purpose, 32));
      this.keys.set(purpose, key);
    }
    return key;
  }

  hmac(purpose: KeyPurpose, ...parts: string[]): string {
    // Length-prefix each part so ("ab","c") and ("a","bc") never collide.
    const message = parts.map((part) => `${part.length}:${part}`).join('|');
    return createHmac('sha256', this.key(purpose)).update(message, 'utf8').digest('hex');
  }
}

const HEX = /^(?:[0-9a-f]{2})+$/i;

/**
 * Whether two hex digests are equal, in time independent of where they differ. Anything that is
 * not whole hex is unequal: Buffer.from(…, 'hex') silently stops at the first bad character, so
 * `<digest>x` would otherwise pass for `<digest>`.
 */
export const constantTimeEqualHex = (a: string, b: string): boolean => {
  if (!HEX.test(a) || !HEX.test(b) || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
};
