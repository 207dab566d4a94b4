import { describe, expect, it } from 'vitest';
import { oldestAgeSeconds } from './outbox-metrics.collector.js';

describe('oldestAgeSeconds', () => {
  const now = new Date('2026-01-01T12:00:00Z');

  it('is the seconds since the oldest undelivered message was queued', () => {
    expect(oldestAgeSeconds(new Date('2026-01-01T11:59:17.500Z'), now)).toBe(42.5);
  });

  it('is 0 without one, and never negative', () => {
    expect(oldestAgeSeconds(null, now)).toBe(0);
    expect(oldestAgeSeconds(new Date('2026-01-01T12:00:05Z'), now)).toBe(0);
  });
});
