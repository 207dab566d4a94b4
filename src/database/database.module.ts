import { join } from 'node:path';
import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { buildDataSourceOptions } from './data-source.options.js';
import { RunningPostgres, startEmbeddedPostgres } from './embedded-postgres.js';
import { runMigrationsLocked } from './migration-runner.js';

/** Where the embedded cluster is asked for; `placeCluster` may move it (running as root). */
export const embeddedClusterDir = (config: AppConfig): string => join(config.dataDir, 'pg');

/**
 * Starts the embedded PostgreSQL when no DATABASE_URL is given. On shutdown it closes the pool,
 * then stops the embedded server: its hook runs after HTTP has drained and after the mail worker
 * (a global module's hooks run last), and it does not rely on running after TypeORM's own hook,
 * as the pool must be closed before the server under it goes away.
 */
@Injectable()
export class DatabaseServer implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private embedded?: RunningPostgres;

  constructor(
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  async url(): Promise<string> {
    if (this.config.DATABASE_URL) return this.config.DATABASE_URL;
    this.embedded = await startEmbeddedPostgres({
      dir: embeddedClusterDir(this.config),
      onPlaced: ({ dir, relocation }) => {
        if (relocation) this.logger.warn(relocation);
        this.logger.log(`No DATABASE_URL: starting embedded PostgreSQL in ${dir}`);
      },
    });
    return this.embedded.urlFor('postgres');
  }

  async onApplicationShutdown(): Promise<void> {
    try {
      const dataSource = this.dataSource();
      if (dataSource?.isInitialized) await dataSource.destroy();
      this.logger.log('Shutdown: database pool closed');
    } catch (error) {
      // The embedded server is stopped all the same: the process is going away.
      this.logger.error(`Shutdown: closing the database pool failed: ${String(error)}`);
    }
    if (this.embedded) {
      await this.embedded.stop();
      this.logger.log('Shutdown: embedded PostgreSQL stopped');
    }
  }

  /** Looked up late: the data source is built from this provider's url(), so it cannot be injected. */
  private dataSource(): DataSource | undefined {
    try {
      return this.moduleRef.get(DataSource, { strict: false });
    } catch {
      return undefined; // start-up failed before the data source existed
    }
  }
}

@Global()
@Module({
  providers: [DatabaseServer],
  exports: [DatabaseServer],
})
class DatabaseServerModule {}

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      imports: [DatabaseServerModule],
      inject: [DatabaseServer],
      useFactory: async (server: DatabaseServer) => buildDataSourceOptions(await server.url()),
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        const applied = await runMigrationsLocked(dataSource);
        if (applied.length) new Logger('Database').log(`Applied migrations: ${applied.join(', ')}`);
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
