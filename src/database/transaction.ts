import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs `work` in a transaction: the caller's, when `manager` is already in one (its locks and
 * writes then commit or roll back together with the caller's), else a new one.
 */
export function inTransaction<T>(db: DataSource | EntityManager, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const manager = 'manager' in db ? db.manager : db;
  if (manager.queryRunner?.isTransactionActive) return work(manager);
  return manager.transaction(work);
}
