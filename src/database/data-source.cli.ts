import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config.js';
import { buildDataSourceOptions } from './data-source.options.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

// For `npm run migration:*`: the same options as the app, and the same embedded server when
// DATABASE_URL is unset (it stops when the CLI exits).
const config = loadConfig();
const url = config.DATABASE_URL ?? (await startEmbeddedPostgres({ dir: join(config.dataDir, 'pg') })).urlFor('postgres');

export default new DataSource(buildDataSourceOptions(url));
