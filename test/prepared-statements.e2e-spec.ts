import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreparingClient, statementName } from '../src/database/preparing-client.js';
import { createTestDatabase } from './helpers/test-app.js';

/** The pool's connections (src/database/preparing-client.ts) against a real PostgreSQL: one connection, so what it prepared can be read back. */
describe('PreparingClient', () => {
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await createTestDatabase(), max: 1, Client: PreparingClient });
  });
  afterAll(async () => pool?.end());

  const prepared = async () =>
    (await pool.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements ORDER BY name'))
      .rows;

  it('sends a statement with parameters as a named prepared statement, parsed once for the connection', async () => {
    const text = 'SELECT $1::int + 1 AS next';
    expect((await pool.query(text, [1])).rows).toEqual([{ next: 2 }]);
    expect((await pool.query(text, [41])).rows).toEqual([{ next: 42 }]);
    const statements = await prepared();
    expect(statements).toContainEqual({ name: statementName(text), statement: text });
    expect(statements.filter((statement) => statement.statement === text)).toHaveLength(1);
  });

  it('leaves statements without parameters alone', async () => {
    await pool.query('SELECT 42 AS answer');
    expect((await prepared()).map((statement) => statement.statement)).not.toContain('SELECT 42 AS answer');
  });

  it('reports a failure like an unnamed statement, and the statement works again after it', async () => {
    const text = 'SELECT 10 / $1::int AS quotient';
    await expect(pool.query(text, [0])).rejects.toMatchObject({ code: '22012' });
    expect((await pool.query(text, [5])).rows).toEqual([{ quotient: 2 }]);
    // Inside a transaction that failed, then after it.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await expect(client.query(text, [0])).rejects.toMatchObject({ code: '22012' });
      await client.query('ROLLBACK');
      expect((await client.query(text, [2])).rows).toEqual([{ quotient: 5 }]);
    } finally {
      client.release();
    }
  });

  it('does not keep a statement whose text PostgreSQL refused', async () => {
    const text = 'SELEC $1::int';
    await expect(pool.query(text, [1])).rejects.toMatchObject({ code: '42601' });
    await expect(pool.query(text, [1])).rejects.toMatchObject({ code: '42601' });
    expect((await prepared()).map((statement) => statement.name)).not.toContain(statementName(text));
  });

  it('takes the callback form too', async () => {
    const rows = await new Promise((resolve, reject) =>
      pool.query('SELECT $1::text AS echoed', ['x'], (error, result) => (error ? reject(error) : resolve(result.rows))),
    );
    expect(rows).toEqual([{ echoed: 'x' }]);
  });
});
