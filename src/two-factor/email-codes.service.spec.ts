import { describe, expect, it } from 'vitest';
import { formatEmailCode, normalizeEmailCode } from './email-codes.service.js';

describe('normalizeEmailCode', () => {
  it.each([
    ['123456', '123456'],
    ['123-456', '123456'],
    ['123 456', '123456'],
    ['  123-456\n', '123456'],
    ['000000', '000000'],
    ['012-345', '012345'],
  ])('accepts %j as %j', (input, expected) => {
    expect(normalizeEmailCode(input)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    '-',
    '12345',
    '1234567',
    '12-345',
    '1234-567',
    'abcdef',
    'abc-def',
    '12345a',
    '１２３４５６',
    '123_456',
    '+12345',
  ])('refuses %j', (input) => {
    expect(normalizeEmailCode(input)).toBeNull();
  });
});

describe('formatEmailCode', () => {
  it('shows six digits as 123-456', () => {
    expect(formatEmailCode('123456')).toBe('123-456');
  });

  it('keeps leading zeros', () => {
    expect(formatEmailCode('000042')).toBe('000-042');
  });

  it('is undone by normalizeEmailCode', () => {
    for (const code of ['000000', '987654', '100001', '999999']) {
      expect(normalizeEmailCode(formatEmailCode(code))).toBe(code);
    }
  });
});
