// One PostgreSQL for the floor and the service, so they are compared on the same server: the
// project's embedded PostgreSQL (throw-away cluster), or the server of DATABASE_URL.
import { join } from 'node:path';
import pg from 'pg';

async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const quoteIdent = (name) => `"${name.replaceAll('"', '""')}"`;

/**
 * Starts the embedded cluster under `dataDir` unless DATABASE_URL is set. `urlFor(db)` names a
 * database on the same server; `drop` is true when databases made here must be dropped at the end
 * (an external server outlives the bench, a throw-away cluster does not).
 */
export async function startBenchPostgres(dataDir) {
  const external = process.env.DATABASE_URL;
  if (external) {
    const urlFor = (database) => {
      const url = new URL(external);
      url.pathname = `/${database}`;
      return url.toString();
    };
    return { embedded: false, adminUrl: external, urlFor, drop: true, stop: async () => undefined };
  }
  // Compiled by `npm run build` (the bench script runs it first); the same start-up the service uses.
  const { startEmbeddedPostgres } = await import('../../dist/src/database/embedded-postgres.js');
  // Default durability (fsync on), as the service runs its own embedded cluster.
  const running = await startEmbeddedPostgres({ dir: join(dataDir, 'pg'), persistent: false, onLog: () => undefined });
  return { embedded: true, adminUrl: running.adminUrl, urlFor: running.urlFor, drop: false, stop: () => running.stop() };
}

/** A fresh, empty database (a leftover of an interrupted run is dropped first). */
export const recreateDatabase = (adminUrl, name) =>
  withClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  });

export const dropDatabase = (adminUrl, name) =>
  withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));

export const serverVersion = (url) =>
  withClient(url, async (client) => (await client.query('SHOW server_version')).rows[0].server_version);
