import { Inject, Injectable, Logger } from '@nestjs/common';
import { addSeconds, Clock } from '../common/clock.js';
import { AppConfig } from '../config/app-config.js';
import { RetentionRepository, type RetentionTable } from './retention.repository.js';

const DAY_SECONDS = 86_400;

/** Rows per DELETE statement: small enough that no statement holds its row locks for long. */
export const RETENTION_BATCH_SIZE = 1000;

export type RetentionCounts = Record<RetentionTable, number>;

export type RetentionOutcome =
  { ran: false; reason: 'locked' | 'stopping' } | { ran: true; deleted: RetentionCounts; batches: number; stopped: boolean };

/**
 * What is kept, and for how long:
 * - email codes and challenges: until a day after they were used (completed) or expired, whichever
 *   came first — the day leaves their traces for support questions about a just-failed login;
 * - delivered or given-up mail: OUTBOX_RETENTION_DAYS (its template data is already erased);
 * - audit events: AUDIT_RETENTION_DAYS.
 * Live codes, open challenges and queued mail are never touched. One instance at a time deletes
 * (an advisory lock; the others skip that run), in batches of RETENTION_BATCH_SIZE.
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger('Retention');
  private stopping = false;

  constructor(
    private readonly repository: RetentionRepository,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** One pass over every table (the scheduler's job; tests call it directly). */
  async run(): Promise<RetentionOutcome> {
    if (this.stopping) return { ran: false, reason: 'stopping' };
    const started = Date.now();
    const cutoffs = this.cutoffs(this.clock.now());
    const outcome = await this.repository.withLock(async (session) => {
      const deleted: RetentionCounts = { email_codes: 0, challenges: 0, mail_outbox: 0, audit_events: 0 };
      let batches = 0;
      for (const table of Object.keys(cutoffs) as RetentionTable[]) {
        // Until a batch comes back short: then nothing older than the cutoff is left.
        for (let count = RETENTION_BATCH_SIZE; count === RETENTION_BATCH_SIZE && !this.stopping;) {
          count = await this.repository.deleteBatch(session, table, cutoffs[table], RETENTION_BATCH_SIZE);
          deleted[table] += count;
          batches += 1;
        }
      }
      return { deleted, batches };
    });
    const ms = Date.now() - started;
    if (!outcome.acquired) {
      this.logger.log(`Retention skipped: another instance holds the lock (${ms} ms)`);
      return { ran: false, reason: 'locked' };
    }
    const { deleted, batches } = outcome.result;
    const counts = Object.entries(deleted)
      .map(([table, count]) => `${table}=${count}`)
      .join(' ');
    const stopped = this.stopping;
    this.logger.log(`Retention deleted ${counts} (${batches} batches, ${ms} ms${stopped ? ', stopped by shutdown' : ''})`);
    return { ran: true, deleted, batches, stopped };
  }

  /** Ends a run in progress after its current batch, and refuses new ones (shutdown). */
  stop(): void {
    this.stopping = true;
  }

  /** Rows dead before these moments go. */
  private cutoffs(now: Date): Record<RetentionTable, Date> {
    const dayAgo = addSeconds(now, -DAY_SECONDS);
    return {
      email_codes: dayAgo,
      challenges: dayAgo,
      mail_outbox: addSeconds(now, -this.config.OUTBOX_RETENTION_DAYS * DAY_SECONDS),
      audit_events: addSeconds(now, -this.config.AUDIT_RETENTION_DAYS * DAY_SECONDS),
    };
  }
}
