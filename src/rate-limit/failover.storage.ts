import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface.js';
import type { FixedWindowStorage } from './fixed-window.storage.js';

/** Where the state changes of the shared store are told (one line per change, never one per request). */
export interface FailoverLog {
  warn(message: string): void;
  log(message: string): void;
}

/**
 * Counters in a shared store (Redis) with this process's memory behind them. A call to the
 * shared store that fails, or does not answer within `timeoutMs`, counts as the store being down:
 * - `increment` (every route but code checks) then counts in this process: the limit holds per
 *   instance instead of across instances;
 * - `incrementShared` (code checks) answers `undefined` and counts nothing, so the caller can
 *   refuse the request: several instances must not each grant the full number of guesses.
 * The first failure logs one warning, the first success after it one line that the store is back.
 */
export class FailoverStorage implements ThrottlerStorage {
  private down = false;

  constructor(
    private readonly shared: ThrottlerStorage,
    private readonly local: FixedWindowStorage,
    private readonly timeoutMs: number,
    private readonly logger: FailoverLog,
    private readonly storeName = 'Redis',
  ) {}

  /** Whether the last word from the shared store was a failure. */
  get isDown(): boolean {
    return this.down;
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return (
      (await this.incrementShared(key, ttl, limit, blockDuration, throttlerName)) ??
      this.local.increment(key, ttl, limit, blockDuration, throttlerName)
    );
  }

  /** The shared count, or `undefined` (nothing counted anywhere) when the shared store does not answer in time. */
  async incrementShared(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const record = await Promise.race([
        this.shared.increment(key, ttl, limit, blockDuration, throttlerName),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      this.markUp();
      return record;
    } catch (error) {
      this.markDown(error);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The store failed (a command, or the connection): one warning when it was up until now. */
  markDown(reason: unknown): void {
    if (this.down) return;
    this.down = true;
    const why = reason instanceof Error ? reason.message : String(reason);
    this.logger.warn(
      `${this.storeName} unreachable (${why}): routes that check a code or password answer 503 until it is back; ` +
        'other routes are rate limited per process',
    );
  }

  /** The store answered: one line when it was down until now. */
  markUp(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.log(`${this.storeName} is back: rate limits are shared across instances again`);
  }
}
