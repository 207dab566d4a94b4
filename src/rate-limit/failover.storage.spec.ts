import type { ThrottlerStorage } from '@nestjs/throttler';
import { afterAll, describe, expect, it } from 'vitest';
import { FailoverStorage } from './failover.storage.js';
import { FixedWindowStorage } from './fixed-window.storage.js';

/** A shared store whose behaviour the test switches: answering (its own counters), failing, or never answering. */
class SwitchableStore implements ThrottlerStorage {
  mode: 'up' | 'failing' | 'hanging' = 'up';
  calls = 0;
  private readonly counters = new FixedWindowStorage(() => 0);

  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string) {
    this.calls += 1;
    if (this.mode === 'failing')
      return Promise.reject(new Error("Stream isn't writeable and enableOfflineQueue options is false"));
    if (this.mode === 'hanging') return new Promise<never>(() => undefined);
    return this.counters.increment(key, ttl, limit, blockDuration, throttlerName);
  }

  close() {
    this.counters.close();
  }
}

describe('FailoverStorage', () => {
  const lines: Array<['warn' | 'log', string]> = [];
  const logger = {
    warn: (message: string) => lines.push(['warn', message]),
    log: (message: string) => lines.push(['log', message]),
  };
  const local = new FixedWindowStorage(() => 0);
  const shared = new SwitchableStore();
  const storage = new FailoverStorage(shared, local, 50, logger);

  afterAll(() => {
    local.close();
    shared.close();
  });

  it('counts in the shared store while it answers, in this process while it does not, and says so once each way', async () => {
    await expect(storage.increment('ip:a', 60_000, 2, 60_000, 'default')).resolves.toMatchObject({ totalHits: 1 });
    await expect(storage.incrementShared('ip:a', 60_000, 2, 60_000, 'default')).resolves.toMatchObject({ totalHits: 2 });
    expect(lines).toEqual([]);

    shared.mode = 'failing';
    // Code checks: nothing counted anywhere, the caller refuses.
    await expect(storage.incrementShared('ip:a', 60_000, 2, 60_000, 'default')).resolves.toBeUndefined();
    expect(local.size).toBe(0);
    // Other routes: the process's own counters, with the same limit (starting afresh).
    for (let hit = 1; hit <= 2; hit++) {
      await expect(storage.increment('ip:a', 60_000, 2, 60_000, 'default')).resolves.toMatchObject({
        totalHits: hit,
        isBlocked: false,
      });
    }
    await expect(storage.increment('ip:a', 60_000, 2, 60_000, 'default')).resolves.toMatchObject({ isBlocked: true });
    expect(storage.isDown).toBe(true);
    expect(lines).toEqual([
      [
        'warn',
        "Redis unreachable (Stream isn't writeable and enableOfflineQueue options is false): routes that check a code or " +
          'password answer 503 until it is back; other routes are rate limited per process',
      ],
    ]);

    shared.mode = 'up';
    // Back to the shared count, which kept its hits (the two before the outage; this is the third: over the limit of 2).
    await expect(storage.incrementShared('ip:a', 60_000, 2, 60_000, 'default')).resolves.toMatchObject({
      totalHits: 3,
      isBlocked: true,
    });
    await expect(storage.increment('ip:b', 60_000, 2, 60_000, 'default')).resolves.toMatchObject({ totalHits: 1 });
    expect(storage.isDown).toBe(false);
    expect(lines.slice(1)).toEqual([['log', 'Redis is back: rate limits are shared across instances again']]);
  });

  it('treats a store that does not answer in time as down (the request waits no longer than the timeout)', async () => {
    lines.length = 0;
    shared.mode = 'hanging';
    const started = Date.now();
    await expect(storage.incrementShared('ip:c', 60_000, 5, 60_000, 'default')).resolves.toBeUndefined();
    await expect(storage.increment('ip:c', 60_000, 5, 60_000, 'default')).resolves.toMatchObject({ totalHits: 1 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(lines).toEqual([['warn', expect.stringContaining('Redis unreachable (no answer within 50 ms)')]]);
    // Connection events feed the same state: no second warning while down, one line when back.
    storage.markDown(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    storage.markUp();
    storage.markUp();
    expect(lines.map(([level]) => level)).toEqual(['warn', 'log']);
  });
});
