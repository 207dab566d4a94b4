import { Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Metrics, type PoolUsage } from './metrics.js';

/** The counts node-postgres' Pool keeps (TypeORM's postgres driver holds it as `driver.master`). */
interface PgPoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options?: { max?: number };
}

const isPgPool = (value: unknown): value is PgPoolCounts =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as PgPoolCounts).totalCount === 'number' &&
  typeof (value as PgPoolCounts).idleCount === 'number' &&
  typeof (value as PgPoolCounts).waitingCount === 'number';

/** The pool's usage at scrape time, read from the pool's own counters: no query, works with the database down. */
export function poolUsage(dataSource: Pick<DataSource, 'isInitialized' | 'driver'>): PoolUsage | null {
  if (!dataSource.isInitialized) return null;
  const pool: unknown = (dataSource.driver as { master?: unknown }).master;
  if (!isPgPool(pool)) return null;
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options?.max ?? Number.NaN };
}

@Injectable()
export class DatabasePoolCollector implements OnModuleInit {
  readonly name = 'database pool';

  constructor(
    private readonly metrics: Metrics,
    private readonly dataSource: DataSource,
  ) {}

  onModuleInit(): void {
    this.metrics.onScrape(this);
  }

  collect(): void {
    this.metrics.databasePool(poolUsage(this.dataSource));
  }

  unavailable(): void {
    this.metrics.databasePool(null);
  }
}
