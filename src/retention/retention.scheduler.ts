import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config.js';
import { RetentionService } from './retention.service.js';

/** Names in @nestjs/schedule's registry. */
export const RETENTION_INTERVAL = 'retention';
export const RETENTION_FIRST_RUN = 'retention-first-run';

/** The first run comes this long after start (intervals are at least 60 s). */
export const RETENTION_FIRST_RUN_DELAY_MS = 10_000;

/**
 * Runs the retention job every RETENTION_INTERVAL_SECONDS, and once shortly after start. Every
 * instance schedules it; the job's lock lets one of them delete at a time. A run still going when
 * the next is due is not doubled; on shutdown the run in progress ends after its current batch.
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Retention');
  private running?: Promise<void>;

  constructor(
    private readonly retention: RetentionService,
    private readonly registry: SchedulerRegistry,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const seconds = this.config.RETENTION_INTERVAL_SECONDS;
    if (seconds === 0) {
      this.logger.log('Retention job off in this instance (RETENTION_INTERVAL_SECONDS=0)');
      return;
    }
    const first = setTimeout(() => {
      this.registry.deleteTimeout(RETENTION_FIRST_RUN);
      void this.tick();
    }, RETENTION_FIRST_RUN_DELAY_MS);
    // Neither keeps the process alive: shutdown does not wait for the next run.
    first.unref();
    this.registry.addTimeout(RETENTION_FIRST_RUN, first);
    const every = setInterval(() => void this.tick(), seconds * 1000);
    every.unref();
    this.registry.addInterval(RETENTION_INTERVAL, every);
  }

  /** @nestjs/schedule clears the timers at this point; a run in progress is told to finish early. */
  beforeApplicationShutdown(): void {
    this.retention.stop();
    if (this.registry.doesExist('timeout', RETENTION_FIRST_RUN)) this.registry.deleteTimeout(RETENTION_FIRST_RUN);
    if (this.registry.doesExist('interval', RETENTION_INTERVAL)) this.registry.deleteInterval(RETENTION_INTERVAL);
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    await this.running;
    this.logger.log('Shutdown: retention job stopped');
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.retention
      .run()
      .then(() => undefined)
      .catch((error: unknown) => this.logger.error(`Retention run failed: ${String(error)}`))
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
  }
}
