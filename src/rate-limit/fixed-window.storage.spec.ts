import { describe, expect, it } from 'vitest';
import { FixedWindowStorage } from './fixed-window.storage.js';

describe('FixedWindowStorage', () => {
  const storage = (clock: { at: number }) => new FixedWindowStorage(() => clock.at);

  it('counts hits per key and window, blocks past the limit for the block duration, then starts again', async () => {
    const clock = { at: 1_000_000 };
    const counters = storage(clock);
    for (let hit = 1; hit <= 3; hit++) {
      await expect(counters.increment('ip:a', 60_000, 3, 60_000, 'default')).resolves.toMatchObject({
        totalHits: hit,
        isBlocked: false,
      });
    }
    await expect(counters.increment('ip:a', 60_000, 3, 60_000, 'default')).resolves.toEqual({
      totalHits: 4,
      timeToExpire: 60,
      isBlocked: true,
      timeToBlockExpire: 60,
    });
    // Another key, another throttler: counted apart.
    await expect(counters.increment('ip:b', 60_000, 3, 60_000, 'default')).resolves.toMatchObject({ totalHits: 1 });
    await expect(counters.increment('ip:a', 60_000, 3, 60_000, 'other')).resolves.toMatchObject({ totalHits: 1 });
    clock.at += 30_000;
    // Blocked hits are not counted.
    await expect(counters.increment('ip:a', 60_000, 3, 60_000, 'default')).resolves.toMatchObject({
      totalHits: 4,
      timeToBlockExpire: 30,
    });
    clock.at += 30_001;
    await expect(counters.increment('ip:a', 60_000, 3, 60_000, 'default')).resolves.toMatchObject({
      totalHits: 1,
      isBlocked: false,
    });
    counters.close();
  });

  it('holds one small record per key, however many hits (and sweeps finished windows)', async () => {
    const clock = { at: 0 };
    const counters = storage(clock);
    for (let hit = 0; hit < 100_000; hit++) await counters.increment('user:u1', 60_000, 1_000_000, 60_000, 'default');
    expect(counters.size).toBe(1);
    clock.at += 60_001;
    counters.sweep();
    expect(counters.size).toBe(0);
    counters.close();
  });
});
