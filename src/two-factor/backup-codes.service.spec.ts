import { describe, expect, it } from 'vitest';
import { BACKUP_CODE_ALPHABET, BACKUP_CODE_LENGTH, generateBackupCode, normalizeBackupCode } from './backup-codes.service.js';

describe('backup code alphabet', () => {
  it('has no character that reads as another (0/O, 1/I/l/L), in either case', () => {
    for (const ambiguous of ['0', 'O', 'o', '1', 'I', 'i', 'l', 'L']) {
      expect(BACKUP_CODE_ALPHABET.includes(ambiguous.toUpperCase())).toBe(false);
    }
    expect(new Set(BACKUP_CODE_ALPHABET).size).toBe(BACKUP_CODE_ALPHABET.length);
  });
});

describe('generateBackupCode', () => {
  it('gives 10 characters of the alphabet, different each time', () => {
    const codes = Array.from({ length: 200 }, generateBackupCode);
    for (const code of codes) {
      expect(code).toHaveLength(BACKUP_CODE_LENGTH);
      expect([...code].every((char) => BACKUP_CODE_ALPHABET.includes(char))).toBe(true);
    }
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('uses every character of the alphabet', () => {
    const seen = new Set(Array.from({ length: 200 }, generateBackupCode).join(''));
    expect(seen.size).toBe(BACKUP_CODE_ALPHABET.length);
  });
});

describe('normalizeBackupCode', () => {
  it.each([
    ['K7M2QX9WRT', 'K7M2QX9WRT'],
    ['k7m2qx9wrt', 'K7M2QX9WRT'],
    ['K7M2Q-X9WRT', 'K7M2QX9WRT'],
    [' k7m2q x9wrt\n', 'K7M2QX9WRT'],
    ['K7-M2-QX-9W-RT', 'K7M2QX9WRT'],
  ])('accepts %j as %j', (input, expected) => {
    expect(normalizeBackupCode(input)).toBe(expected);
  });

  it.each(['', 'K7M2QX9WR', 'K7M2QX9WRTX', 'K7M2QX9WR0', 'K7M2QX9WRO', 'K7M2QX9WR1', 'K7M2QX9WRI', 'K7M2QX9WR_', '123456'])(
    'refuses %j',
    (input) => {
      expect(normalizeBackupCode(input)).toBeNull();
    },
  );
});
