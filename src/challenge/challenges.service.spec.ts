import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { CHALLENGE_ID_PATTERN, challengeState, newChallengeId } from './challenges.service.js';

describe('challengeState', () => {
  const now = new Date('2026-01-01T12:00:00Z');
  const at = (offsetSeconds: number) => new Date(now.getTime() + offsetSeconds * 1000);

  it('is open until the expiry, expired from it on', () => {
    expect(challengeState({ completedAt: null, expiresAt: at(1) }, now)).toBe('open');
    expect(challengeState({ completedAt: null, expiresAt: at(0) }, now)).toBe('expired');
    expect(challengeState({ completedAt: null, expiresAt: at(-600) }, now)).toBe('expired');
  });

  it('a completed challenge stays completed, also past its expiry', () => {
    expect(challengeState({ completedAt: at(-10), expiresAt: at(300) }, now)).toBe('completed');
    expect(challengeState({ completedAt: at(-700), expiresAt: at(-100) }, now)).toBe('completed');
  });
});

describe('challenge ids', () => {
  it('are 32 random bytes in lowercase hex, different each time', () => {
    const ids = Array.from({ length: 50 }, newChallengeId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('anything else is refused before any lookup', () => {
    expect(CHALLENGE_ID_PATTERN.test(newChallengeId())).toBe(true);
    for (const id of ['', 'abc', 'A'.repeat(64), `${'a'.repeat(64)}0`, `${'a'.repeat(63)}g`, `${'a'.repeat(64)}\n`]) {
      expect(CHALLENGE_ID_PATTERN.test(id), JSON.stringify(id)).toBe(false);
    }
  });
});

describe('challenge configuration', () => {
  const load = (env: Record<string, string>) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tfa-challenge-config-'));
    try {
      return loadConfig({ DATA_DIR: dataDir, APP_SECRET: 'an-app-secret-of-more-than-32-characters-0123456789', ...env });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  it('defaults: challenges live 600 s, sendEmailCode allows 5 per minute (seed 004)', () => {
    expect(load({})).toMatchObject({ CHALLENGE_TTL_SECONDS: 600, RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE: 5 });
    expect(load({ CHALLENGE_TTL_SECONDS: '300', RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE: '3' })).toMatchObject({
      CHALLENGE_TTL_SECONDS: 300,
      RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE: 3,
    });
  });

  it.each([
    ['CHALLENGE_TTL_SECONDS', 'ten'],
    ['CHALLENGE_TTL_SECONDS', '59'],
    ['CHALLENGE_TTL_SECONDS', '86401'],
    ['RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE', '0'],
    ['RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE', '1.5'],
  ])('%s=%s stops start-up with a message naming the variable', (name, value) => {
    expect(() => load({ [name]: value })).toThrow(ConfigError);
    expect(() => load({ [name]: value })).toThrow(new RegExp(`${name}=`));
  });
});
