import { describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { SecondFactorAttemptsRepository } from './repositories/second-factor-attempts.repository.js';
import { SecondFactorFailuresService } from './second-factor-failures.service.js';

class FixedClock extends Clock {
  constructor(private readonly at: Date) {
    super();
  }

  now(): Date {
    return new Date(this.at);
  }
}

const NOW = new Date('2030-01-01T00:00:00.000Z');
const PERMANENT = new Date('9999-12-31T00:00:00Z');

/** lockUntil needs only the clock and the configuration: no database. */
const service = (overrides: Partial<AppConfig> = {}) =>
  new SecondFactorFailuresService(
    {} as DataSource,
    {} as SecondFactorAttemptsRepository,
    new FixedClock(NOW),
    Object.assign(new AppConfig(), overrides),
  );

const secondsAfterNow = (date: Date | null): number | null => (date === null ? null : (date.getTime() - NOW.getTime()) / 1000);

describe('SecondFactorFailuresService.lockUntil (defaults: threshold 10, 30 s doubling, cap 3600 s, permanent at 100)', () => {
  const failures = service();

  it('does not lock below LOCKOUT_THRESHOLD', () => {
    for (const count of [0, 1, 5, 9]) expect(failures.lockUntil(count)).toBeNull();
  });

  it('locks for LOCKOUT_BASE_SECONDS at the threshold, doubling with each further failure', () => {
    expect(secondsAfterNow(failures.lockUntil(10))).toBe(30);
    expect(secondsAfterNow(failures.lockUntil(11))).toBe(60);
    expect(secondsAfterNow(failures.lockUntil(12))).toBe(120);
    expect(secondsAfterNow(failures.lockUntil(13))).toBe(240);
    expect(secondsAfterNow(failures.lockUntil(14))).toBe(480);
    expect(secondsAfterNow(failures.lockUntil(15))).toBe(960);
    expect(secondsAfterNow(failures.lockUntil(16))).toBe(1920);
  });

  it('caps the delay at LOCKOUT_MAX_SECONDS', () => {
    expect(secondsAfterNow(failures.lockUntil(17))).toBe(3600);
    expect(secondsAfterNow(failures.lockUntil(50))).toBe(3600);
    // Large exponents must not overflow into something odd.
    expect(secondsAfterNow(failures.lockUntil(99))).toBe(3600);
  });

  it('locks for good from LOCKOUT_MAX_FAILURES on', () => {
    expect(failures.lockUntil(100)).toEqual(PERMANENT);
    expect(failures.lockUntil(101)).toEqual(PERMANENT);
    expect(failures.lockUntil(10_000)).toEqual(PERMANENT);
  });

  it('counts from the clock it was given', () => {
    expect(failures.lockUntil(10)).toEqual(new Date('2030-01-01T00:00:30.000Z'));
  });
});

describe('SecondFactorFailuresService.lockUntil with other settings', () => {
  const failures = service({ LOCKOUT_THRESHOLD: 3, LOCKOUT_BASE_SECONDS: 5, LOCKOUT_MAX_SECONDS: 30, LOCKOUT_MAX_FAILURES: 8 });

  it('follows the configured threshold, base, cap and maximum', () => {
    expect(failures.lockUntil(2)).toBeNull();
    expect(secondsAfterNow(failures.lockUntil(3))).toBe(5);
    expect(secondsAfterNow(failures.lockUntil(4))).toBe(10);
    expect(secondsAfterNow(failures.lockUntil(5))).toBe(20);
    expect(secondsAfterNow(failures.lockUntil(6))).toBe(30);
    expect(secondsAfterNow(failures.lockUntil(7))).toBe(30);
    expect(failures.lockUntil(8)).toEqual(PERMANENT);
  });
});
