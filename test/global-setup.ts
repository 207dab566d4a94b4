import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: TEST_DATABASE_URL when set (a server of yours, as a user that
 * may create databases), else an embedded one in a temporary directory. Each test file then gets
 * a database of its own.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.TEST_DATABASE_URL) {
    project.provide('adminDatabaseUrl', process.env.TEST_DATABASE_URL);
    return async () => undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tfa-test-pg-'));
  // The server runs as the postgres user, which must be able to reach its data directory.
  chmodSync(dir, 0o755);
  const postgres = await startEmbeddedPostgres({ dir: join(dir, 'pg'), persistent: false, fast: true });
  project.provide('adminDatabaseUrl', postgres.adminUrl);
  return async () => {
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
