import { createHmac } from 'node:crypto';

/**
 * An independent RFC 4226 / RFC 6238 implementation for the tests: node:crypto's HMAC and a
 * base32 decoder of our own, so the service's TOTP (otplib) is checked against something that
 * shares no code with it. Checked against the RFCs' own test vectors in test/totp.e2e-spec.ts.
 */

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (case-insensitive, padding and spaces ignored). */
export function base32Decode(input: string): Buffer {
  const clean = input.replace(/[\s=]/g, '').toUpperCase();
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value < 0) throw new Error(`Not a base32 character: ${JSON.stringify(char)}`);
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** RFC 4226 HOTP with dynamic truncation. */
export function hotp(key: Buffer, counter: number, digits = 6, algorithm: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return (binary % 10 ** digits).toString().padStart(digits, '0');
}

export interface TotpOptions {
  digits?: number;
  period?: number;
  algorithm?: 'sha1' | 'sha256' | 'sha512';
}

/** The RFC 6238 time step of a moment (T0 = 0). */
export const timeStep = (at: Date | number, period = 30): number =>
  Math.floor((typeof at === 'number' ? at : at.getTime()) / 1000 / period);

/** The TOTP code of a base32 secret at a moment. */
export function totp(secretBase32: string, at: Date | number, options: TotpOptions = {}): string {
  const { digits = 6, period = 30, algorithm = 'sha1' } = options;
  return hotp(base32Decode(secretBase32), timeStep(at, period), digits, algorithm);
}
