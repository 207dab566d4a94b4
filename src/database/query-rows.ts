import type { DataSource, EntityManager } from 'typeorm';

/**
 * Raw query returning rows. TypeORM's postgres driver answers UPDATE/DELETE with
 * `[rows, rowCount]` and everything else with `rows`; callers want the rows either way.
 */
export async function queryRows<T = Record<string, unknown>>(
  db: DataSource | EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const result: unknown = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}
