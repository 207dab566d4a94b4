import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { addSeconds, Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { RedisProbe } from './redis-probe.js';

/** How long each check may take before it counts as failed: probes expect a quick answer. */
export const READINESS_CHECK_TIMEOUT_MS = 2000;

export interface Readiness {
  /**
   * `degraded`: ready, but Redis is down. The instance still serves (code checks answer 503, other
   * routes count limits per process), and every instance shares that Redis: failing readiness would
   * take them all out of rotation at once.
   */
  status: 'ok' | 'degraded' | 'error';
  database: 'up' | 'down';
  /** `unknown` while the database is down. */
  migrations: 'applied' | 'pending' | 'unknown';
  redis: 'up' | 'down' | 'not-configured';
  /** `stuck`: a due message has waited more than OUTBOX_STUCK_SECONDS (no worker is delivering). */
  outbox: 'ok' | 'stuck' | 'unknown';
}

const withTimeout = <T>(work: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
};

/** What GET /health/ready checks: the database, its migrations, Redis (when configured), the outbox. */
@Injectable()
export class ReadinessService {
  /** Every migration this build knows, by the name TypeORM records. */
  private readonly expectedMigrations = migrations.map((migration) => new migration().name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly redis: RedisProbe,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  async check(): Promise<Readiness> {
    const [database, redis] = await Promise.all([this.database(), this.redisState()]);
    let migrationsState: Readiness['migrations'] = 'unknown';
    let outbox: Readiness['outbox'] = 'unknown';
    if (database === 'up') [migrationsState, outbox] = await Promise.all([this.migrations(), this.outbox()]);
    const ready = database === 'up' && migrationsState === 'applied' && outbox === 'ok';
    const status = !ready ? 'error' : redis === 'down' ? 'degraded' : 'ok';
    return { status, database, migrations: migrationsState, redis, outbox };
  }

  private async database(): Promise<Readiness['database']> {
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), READINESS_CHECK_TIMEOUT_MS);
      return 'up';
    } catch {
      return 'down';
    }
  }

  /** `pending` also when the table cannot be read (a database nobody has migrated). */
  private async migrations(): Promise<Readiness['migrations']> {
    try {
      const table = this.dataSource.options.migrationsTableName ?? 'migrations';
      const rows = (await withTimeout(
        this.dataSource.query(`SELECT name FROM "${table}"`),
        READINESS_CHECK_TIMEOUT_MS,
      )) as Array<{ name: string }>;
      const applied = new Set(rows.map((row) => row.name));
      return this.expectedMigrations.every((name) => applied.has(name)) ? 'applied' : 'pending';
    } catch {
      return 'pending';
    }
  }

  private async redisState(): Promise<Readiness['redis']> {
    if (!this.redis.configured) return 'not-configured';
    return (await this.redis.ping(READINESS_CHECK_TIMEOUT_MS)) ? 'up' : 'down';
  }

  /**
   * Stuck: a pending message due for longer than OUTBOX_STUCK_SECONDS, or one whose delivery lease
   * ran out that long ago (a sender died and nobody took it over). Both are due to any worker.
   */
  private async outbox(): Promise<Readiness['outbox']> {
    try {
      const before = addSeconds(this.clock.now(), -this.config.OUTBOX_STUCK_SECONDS);
      const [row] = (await withTimeout(
        this.dataSource.query(
          `SELECT EXISTS (SELECT 1 FROM mail_outbox
              WHERE (status = 'pending' AND next_attempt_at < $1) OR (status = 'sending' AND lease_until < $1)) AS stuck`,
          [before],
        ),
        READINESS_CHECK_TIMEOUT_MS,
      )) as Array<{ stuck: boolean }>;
      return row?.stuck ? 'stuck' : 'ok';
    } catch {
      return 'unknown';
    }
  }
}
