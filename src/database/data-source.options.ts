import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { entities } from './entities.js';
import { PreparingClient } from './preparing-client.js';

/** The one options object behind the app's connection and the TypeORM CLI. */
export const buildDataSourceOptions = (url: string): DataSourceOptions => ({
  type: 'postgres',
  url,
  entities,
  migrations,
  migrationsTableName: 'typeorm_migrations',
  // Schema changes go through reviewed migrations only.
  synchronize: false,
  migrationsRun: false,
  // Statements with parameters go to PostgreSQL as named prepared statements (preparing-client.ts).
  extra: { max: 20, application_name: 'two-factor-service', Client: PreparingClient },
});
