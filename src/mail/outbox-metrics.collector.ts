import { Injectable, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { Metrics, type OutboxBacklog } from '../metrics/metrics.js';
import { OutboxRepository } from './outbox.repository.js';

/** The age of the oldest undelivered message at `now`; 0 without one (never negative, whatever the clocks say). */
export const oldestAgeSeconds = (oldestCreatedAt: Date | null, now: Date): number =>
  oldestCreatedAt ? Math.max(0, (now.getTime() - oldestCreatedAt.getTime()) / 1000) : 0;

/** The outbox gauges, read at scrape time with one query (Metrics bounds its time; the database down makes them NaN). */
@Injectable()
export class OutboxMetricsCollector implements OnModuleInit {
  readonly name = 'mail outbox';

  constructor(
    private readonly metrics: Metrics,
    private readonly outbox: OutboxRepository,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.metrics.onScrape(this);
  }

  async collect(): Promise<void> {
    const { pending, oldestCreatedAt } = await this.outbox.backlog();
    const backlog: OutboxBacklog = { pending, oldestAgeSeconds: oldestAgeSeconds(oldestCreatedAt, this.clock.now()) };
    this.metrics.outboxBacklog(backlog);
  }

  unavailable(): void {
    this.metrics.outboxBacklog(null);
  }
}
