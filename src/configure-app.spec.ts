import { describe, expect, it } from 'vitest';
import { unsafeValueReason } from './configure-app.js';

describe('unsafeValueReason', () => {
  it('accepts ordinary JSON, including astral characters (well-formed surrogate pairs)', () => {
    expect(unsafeValueReason({ name: 'Ada 😀', nested: { list: ['a', 1, null, true] } })).toBeNull();
  });

  it.each([
    ['a NUL byte', { user: 'a\u0000b' }, 'holds a NUL character'],
    ['an unpaired high surrogate', { email: '\ud800x@example.com' }, 'holds an unpaired surrogate'],
    ['an unpaired low surrogate', { email: 'x\udc00' }, 'holds an unpaired surrogate'],
    ['a nested NUL', { data: { list: ['ok', 'b\u0000'] } }, 'holds a NUL character'],
    ['a __proto__ key', JSON.parse('{"__proto__":{"admin":true}}'), 'holds the reserved key "__proto__"'],
    ['a toString key', { data: { toString: 'x' } }, 'holds the reserved key "toString"'],
    ['a constructor key', { constructor: { prototype: {} } }, 'holds the reserved key "constructor"'],
    ['a NUL in a key', { 'a\u0000': 1 }, 'has a key that holds a NUL character'],
  ])('refuses %s', (_label, value, reason) => {
    expect(unsafeValueReason(value)).toBe(reason);
  });

  it('refuses nesting deeper than any request needs', () => {
    let value: unknown = 'leaf';
    for (let i = 0; i < 40; i++) value = { next: value };
    expect(unsafeValueReason(value)).toBe('is nested too deeply');
  });
});
