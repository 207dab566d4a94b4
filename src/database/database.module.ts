import { join } from 'node:path';
import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import exitHook from 'async-exit-hook';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { buildDataSourceOptions } from './data-source.options.js';
import { RunningPostgres, startEmbeddedPostgres } from './embedded-postgres.js';
import { runMigrationsLocked } from './migration-runner.js';

/** Starts the embedded PostgreSQL when no DATABASE_URL is given, and stops it on shutdown. */
@Injectable()
export class DatabaseServer implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private embedded?: RunningPostgres;

  constructor(@Inject(AppConfig) private readonly config: AppConfig) {}

  async url(): Promise<string> {
    if (this.config.DATABASE_URL) return this.config.DATABASE_URL;
    const dir = join(this.config.dataDir, 'pg');
    this.logger.log(`No DATABASE_URL: starting embedded PostgreSQL in ${dir}`);
    this.embedded = await startEmbeddedPostgres({ dir });
    // embedded-postgres stops its server and exits the process on these signals by itself, racing
    // Nest's graceful shutdown (in-flight requests would lose their database). Nest's shutdown
    // hooks own the signals instead: HTTP drains first, then onApplicationShutdown stops the server.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) exitHook.unhookEvent(signal);
    return this.embedded.urlFor('postgres');
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.embedded) {
      await this.embedded.stop();
      this.logger.log('Embedded PostgreSQL stopped');
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
