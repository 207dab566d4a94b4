import { Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';

/** Arbitrary constant shared by every instance of this service (the migrations use 727_001_2). */
const RETENTION_LOCK_KEY = 727_001_3;

/** What the retention job deletes; each kind is one table. */
export type RetentionTable = 'email_codes' | 'challenges' | 'mail_outbox' | 'audit_events';

/**
 * One batch per statement: the ids are picked first (LIMIT), so a statement locks at most `limit`
 * rows. Each condition matches an index of migration RetentionIndexes1764500000000.
 */
const DELETE_BATCH: Record<RetentionTable, string> = {
  // Used or expired before $1 (LEAST skips a NULL consumed_at).
  email_codes: `DELETE FROM email_codes WHERE id IN (
      SELECT id FROM email_codes WHERE LEAST(consumed_at, expires_at) < $1 LIMIT $2)`,
  // Completed or expired before $1.
  challenges: `DELETE FROM challenges WHERE id IN (
      SELECT id FROM challenges WHERE LEAST(completed_at, expires_at) < $1 LIMIT $2)`,
  // Delivered, or given up, before $1 (a given-up message has no sent_at: when it was queued).
  mail_outbox: `DELETE FROM mail_outbox WHERE id IN (
      SELECT id FROM mail_outbox WHERE status IN ('sent', 'failed') AND COALESCE(sent_at, created_at) < $1 LIMIT $2)`,
  audit_events: `DELETE FROM audit_events WHERE id IN (
      SELECT id FROM audit_events WHERE at < $1 LIMIT $2)`,
};

/** The connection holding the retention lock (opaque outside this repository). */
export interface RetentionSession {
  readonly client: PoolClient;
}

/** The retention job's SQL: its advisory lock and the batched deletes. */
@Injectable()
export class RetentionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Runs `work` while this instance holds the retention lock, on a connection of its own (the lock
   * is the session's); `{ acquired: false }` at once when another instance holds it. After any
   * error (a failed delete, a failed unlock) the connection is closed rather than returned to the
   * pool, so the lock can never stay behind on an idle pooled connection.
   */
  async withLock<T>(
    work: (session: RetentionSession) => Promise<T>,
  ): Promise<{ acquired: false } | { acquired: true; result: T }> {
    const client = await this.pool().connect();
    let broken: Error | undefined;
    try {
      const locked = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RETENTION_LOCK_KEY]);
      if (!locked.rows[0]?.locked) return { acquired: false };
      try {
        return { acquired: true, result: await work({ client }) };
      } finally {
        try {
          await client.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK_KEY]);
        } catch (error) {
          broken = error instanceof Error ? error : new Error(String(error));
        }
      }
    } catch (error) {
      broken ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      // With an error pg closes the connection instead of pooling it (and a session lock with it).
      client.release(broken);
    }
  }

  /** Deletes up to `limit` rows of `table` that were dead before `before`; how many it deleted. */
  async deleteBatch(session: RetentionSession, table: RetentionTable, before: Date, limit: number): Promise<number> {
    const result = await session.client.query(DELETE_BATCH[table], [before, limit]);
    return result.rowCount ?? 0;
  }

  /** TypeORM's own pool: a dedicated connection counts against the same limit as every other. */
  private pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }
}
