import { describe, expect, it } from 'vitest';
import { MAX_NAMED_STATEMENTS, statementName } from './preparing-client.js';

describe('statementName', () => {
  it('names a text the same way every time, and different texts differently', () => {
    const a = statementName('SELECT id FROM users WHERE id = $1');
    expect(a).toMatch(/^tfa_[A-Za-z0-9_-]{32}$/);
    expect(statementName('SELECT id FROM users WHERE id = $1')).toBe(a);
    expect(statementName('SELECT id FROM users WHERE id = $2')).not.toBe(a);
  });

  it('names no new text past the cap, and keeps the names it gave', () => {
    const first = statementName('SELECT 1 WHERE $1::int > 0');
    for (let i = 0; i < MAX_NAMED_STATEMENTS; i++) statementName(`SELECT ${i} WHERE $1::int > 0`);
    expect(statementName('SELECT a new text past the cap WHERE $1::int > 0')).toBeUndefined();
    expect(statementName('SELECT 1 WHERE $1::int > 0')).toBe(first);
  });
});
