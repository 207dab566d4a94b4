import type { DataSource } from 'typeorm';

/** Arbitrary constant shared by every instance of this service: the advisory lock's key. */
const MIGRATION_LOCK_KEY = 727_001_2;

/**
 * Runs pending migrations while holding a session-level advisory lock, so instances starting
 * together apply them once, one after the other.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((migration) => migration.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
