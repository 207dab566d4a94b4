// The floor server's own table, in its own database: `FLOOR_ROWS` sessions keyed by the SHA-256
// of their token, like the service's `sessions` table.
import pg from 'pg';

export const FLOOR_ROWS = 10_000;

/** Row `i`'s credentials (the token is hashed in SQL exactly as the floor server hashes it). */
export const floorCredentials = (i = FLOOR_ROWS / 2) => ({ userId: `floor-user-${i}`, token: `floor-token-${i}` });

export async function seedFloorDatabase(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE floor_sessions (
        id serial PRIMARY KEY,
        user_id varchar(32) NOT NULL,
        token_hash char(64) NOT NULL,
        username varchar(64) NOT NULL,
        name varchar(128) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);
    await client.query(
      `INSERT INTO floor_sessions (user_id, token_hash, username, name)
       SELECT 'floor-user-' || i, encode(sha256(convert_to('floor-token-' || i, 'UTF8')), 'hex'), 'user' || i, 'User ' || i
         FROM generate_series(1, $1::int) AS i`,
      [FLOOR_ROWS],
    );
    await client.query('CREATE UNIQUE INDEX floor_sessions_token_hash_key ON floor_sessions (token_hash)');
    await client.query('ANALYZE floor_sessions');
    // The floor is only a floor if it does what the service does: an index lookup, not a scan.
    // (Asked with a parameter, as the floor server asks: it is typed char(64) like the column; a
    // text value would be compared as text, past the index.)
    const plan = await client.query(
      'EXPLAIN SELECT user_id, username, name FROM floor_sessions WHERE token_hash = $1 AND revoked_at IS NULL',
      ['0'.repeat(64)],
    );
    const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    if (!/Index/.test(text)) throw new Error(`the floor's lookup does not use its index:\n${text}`);
  } finally {
    await client.end();
  }
}
