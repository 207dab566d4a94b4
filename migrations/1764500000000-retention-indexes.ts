import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the retention job's batched deletes (src/retention/retention.repository.ts), whose
 * conditions none of the existing indexes lead with: without them every batch would scan its table.
 *
 * - email_codes: a code is dead from the earlier of its use and its expiry, and LEAST skips NULLs,
 *   so `LEAST(consumed_at, expires_at) < $1` is exactly "consumed_at < $1 OR expires_at < $1" on
 *   one index. The outstanding-code index (user_id, purpose, expires_at) WHERE consumed_at IS NULL
 *   leads with user_id and leaves used codes out, so it cannot serve this.
 * - challenges: the same for completed or expired challenges (only challenges_user_id_idx exists).
 * - mail_outbox: delivered or given-up rows by when they were settled; partial, so the queue's
 *   pending rows (mail_outbox_due_idx) are not in it.
 * - audit_events: by time alone (audit_events_user_at_idx leads with user_id).
 *
 * Built CONCURRENTLY, outside a transaction, so writers are not blocked while they build on a
 * large table. A build that failed half-way leaves an invalid index behind: it is dropped and
 * built again when the migration is retried.
 */
const INDEXES: Array<{ name: string; definition: string }> = [
  { name: 'email_codes_dead_since_idx', definition: 'email_codes ((LEAST(consumed_at, expires_at)))' },
  { name: 'challenges_dead_since_idx', definition: 'challenges ((LEAST(completed_at, expires_at)))' },
  {
    name: 'mail_outbox_settled_idx',
    definition: `mail_outbox ((COALESCE(sent_at, created_at))) WHERE status IN ('sent', 'failed')`,
  },
  { name: 'audit_events_at_idx', definition: 'audit_events (at)' },
];

export class RetentionIndexes1764500000000 implements MigrationInterface {
  name = 'RetentionIndexes1764500000000';
  // CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
  transaction = false;

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const { name, definition } of INDEXES) {
      const [existing] = (await queryRunner.query(
        `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
        [name],
      )) as Array<{ valid: boolean }>;
      if (existing?.valid) continue;
      if (existing) await queryRunner.query(`DROP INDEX CONCURRENTLY ${name}`);
      await queryRunner.query(`CREATE INDEX CONCURRENTLY ${name} ON ${definition}`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const { name } of [...INDEXES].reverse()) {
      await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    }
  }
}
