import { Injectable } from '@nestjs/common';
import argon2 from 'argon2';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { sha256Hex } from '../common/random.js';

/** OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/**
 * Passwords are stored as argon2id of their hex SHA-256, because Rocket.Chat clients send that
 * digest (not the password) for the `password` second-factor method and for password changes.
 */
@Injectable()
export class PasswordService {
  private dummyHash?: Promise<string>;

  hash(password: string): Promise<string> {
    return argon2.hash(sha256Hex(password), ARGON2_OPTIONS);
  }

  verify(hash: string | null, password: string): Promise<boolean> {
    return this.verifyDigest(hash, sha256Hex(password));
  }

  /** `digest` is the hex SHA-256 of the password, as the client computed it. */
  async verifyDigest(hash: string | null, digest: string): Promise<boolean> {
    if (!hash || !HEX_SHA256.test(digest)) {
      // Spend the same time as a real check, so unknown users and users without a password do not stand out.
      await argon2.verify(await this.getDummyHash(), 'not-the-password').catch(() => false);
      return false;
    }
    try {
      return await argon2.verify(hash, digest.toLowerCase());
    } catch {
      // Not a hash argon2 can read: the stored record is broken, which "wrong password" would hide.
      throw new DomainError(ErrorCode.InvalidUserDocument, 'The stored password hash cannot be read');
    }
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= argon2.hash('dummy-password-for-timing', ARGON2_OPTIONS);
    return this.dummyHash;
  }
}
