import { describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { poolUsage } from './database-pool.collector.js';

const source = (isInitialized: boolean, master: unknown) => ({ isInitialized, driver: { master } }) as unknown as DataSource;

describe('poolUsage', () => {
  it("reads node-postgres' pool counters and its maximum", () => {
    const pool = { totalCount: 5, idleCount: 2, waitingCount: 1, options: { max: 20 } };
    expect(poolUsage(source(true, pool))).toEqual({ total: 5, idle: 2, waiting: 1, max: 20 });
  });

  it('is unknown before the data source is up, after it is destroyed, or without a pg pool', () => {
    expect(poolUsage(source(false, { totalCount: 1, idleCount: 1, waitingCount: 0 }))).toBeNull();
    expect(poolUsage(source(true, undefined))).toBeNull();
    expect(poolUsage(source(true, { query: () => undefined }))).toBeNull();
  });

  it('reports an unknown maximum as NaN', () => {
    expect(poolUsage(source(true, { totalCount: 0, idleCount: 0, waitingCount: 0 }))?.max).toBeNaN();
  });
});
