import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/** A statement PostgreSQL parses and plans once per connection, then only binds and executes. */
export interface PreparedStatement {
  /** Unique per text: pg keeps the plan per connection under this name. */
  name: string;
  text: string;
}

/**
 * Rows of a named prepared statement, straight through the pool TypeORM holds, past TypeORM's
 * query runner (a runner per call, its logger and events, its result wrapping): for the statement
 * every authenticated request makes. Other statements are prepared too, by the pool's client
 * (preparing-client.ts), but go through TypeORM.
 */
export async function preparedRows<T>(dataSource: DataSource, statement: PreparedStatement, values: unknown[]): Promise<T[]> {
  const pool = (dataSource.driver as unknown as { master: Pool }).master;
  const result = await pool.query<T & Record<string, unknown>>({ name: statement.name, text: statement.text, values });
  return result.rows;
}
