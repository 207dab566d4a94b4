import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Rows of a statement sent straight through the pool TypeORM holds, past TypeORM's query runner (a
 * runner per call, its logger and events, its result wrapping): for the statement every
 * authenticated request makes. The pool's client prepares it by name (preparing-client.ts), as it
 * does every statement with parameters.
 */
export async function preparedRows<T>(dataSource: DataSource, text: string, values: unknown[]): Promise<T[]> {
  const pool = (dataSource.driver as unknown as { master: Pool }).master;
  const result = await pool.query<T & Record<string, unknown>>(text, values);
  return result.rows;
}
