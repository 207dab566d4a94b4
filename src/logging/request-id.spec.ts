import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { requestIdOf, sanitizeRequestId } from './request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const request = (headers: Record<string, string | string[]> = {}) => ({ headers }) as unknown as IncomingMessage;

describe('sanitizeRequestId', () => {
  it('keeps 1 to 128 characters of letters, digits and . _ : -', () => {
    for (const id of ['a', 'abc-123', 'req_2024.01:node-7', 'A'.repeat(128), '0f8fad5b-d9cb-469f-a165-70867728950e']) {
      expect(sanitizeRequestId(id)).toBe(id);
    }
  });

  it('refuses anything else: empty, too long, spaces, control characters, line breaks, other characters, repeated headers', () => {
    for (const id of [
      '',
      'A'.repeat(129),
      'a b',
      ' abc',
      'abc\t',
      'a\u0000b',
      'a\r\nx-injected: 1',
      'a\u001b[31m',
      'ünï',
      'a/b',
      'a"b',
      '{}',
    ]) {
      expect(sanitizeRequestId(id), JSON.stringify(id)).toBeNull();
    }
    expect(sanitizeRequestId(['abc', 'def'])).toBeNull();
    expect(sanitizeRequestId(undefined)).toBeNull();
  });
});

describe('requestIdOf', () => {
  it('takes a sane X-Request-Id', () => {
    expect(requestIdOf(request({ 'x-request-id': 'from-the-proxy' }))).toBe('from-the-proxy');
  });

  it('generates a UUID when the header is absent or not sane', () => {
    expect(requestIdOf(request())).toMatch(UUID);
    expect(requestIdOf(request({ 'x-request-id': 'no spaces allowed' }))).toMatch(UUID);
    expect(requestIdOf(request({ 'x-request-id': 'x'.repeat(500) }))).toMatch(UUID);
  });

  it('decides once per request (every asker gets the same id), and anew for each request', () => {
    const first = request();
    const id = requestIdOf(first);
    expect(requestIdOf(first)).toBe(id);
    expect(requestIdOf(request())).not.toBe(id);
  });
});
