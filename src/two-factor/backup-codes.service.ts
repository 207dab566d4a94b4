import { randomInt } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock.js';
import { SecretKeys } from '../common/secret-keys.js';
import { BackupCodesRepository } from './repositories/backup-codes.repository.js';

/** No 0/O, 1/I/L: nothing that reads as another character, in either case. */
export const BACKUP_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const BACKUP_CODE_LENGTH = 10;
export const BACKUP_CODE_COUNT = 10;

const BACKUP_CODE_PATTERN = new RegExp(`^[${BACKUP_CODE_ALPHABET}]{${BACKUP_CODE_LENGTH}}$`);

/** Case-insensitive; spaces and dashes are ignored. Null when it cannot be a backup code. */
export const normalizeBackupCode = (input: string): string | null => {
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  return BACKUP_CODE_PATTERN.test(code) ? code : null;
};

export const generateBackupCode = (): string => {
  let code = '';
  for (let i = 0; i < BACKUP_CODE_LENGTH; i++) code += BACKUP_CODE_ALPHABET[randomInt(BACKUP_CODE_ALPHABET.length)];
  return code;
};

/**
 * Single-use backup (recovery) codes for TOTP users. Only an HMAC bound to the user is stored; a
 * code is used up with one atomic UPDATE, so of two parallel requests with one code exactly one
 * succeeds.
 */
@Injectable()
export class BackupCodesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly codes: BackupCodesRepository,
    private readonly keys: SecretKeys,
    private readonly clock: Clock,
  ) {}

  /** Replaces all of the user's codes with BACKUP_CODE_COUNT new ones, returned once in clear. */
  async regenerate(manager: EntityManager, userId: string): Promise<string[]> {
    const codes = new Set<string>();
    while (codes.size < BACKUP_CODE_COUNT) codes.add(generateBackupCode());
    await this.codes.replaceAll(
      manager,
      userId,
      [...codes].map((code) => this.hmac(userId, code)),
      this.clock.now(),
    );
    return [...codes];
  }

  /** True when `input` is one of the user's unused codes, which is then used up. */
  async consume(userId: string, input: string, db: EntityManager = this.dataSource.manager): Promise<boolean> {
    const code = normalizeBackupCode(input);
    if (!code) return false;
    return this.codes.use(db, userId, this.hmac(userId, code), this.clock.now());
  }

  remaining(userId: string): Promise<number> {
    return this.codes.countUnused(userId);
  }

  deleteAll(manager: EntityManager, userId: string): Promise<void> {
    return this.codes.deleteAll(manager, userId);
  }

  private hmac(userId: string, code: string): string {
    return this.keys.hmac('code-hmac', userId, 'backup', code);
  }
}
