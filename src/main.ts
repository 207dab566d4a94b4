import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from './config/app-config.js';
import { createApp } from './create-app.js';
import { ClusterPlacementError, placeCluster } from './database/cluster-location.js';
import { embeddedClusterDir } from './database/database.module.js';
import { handleShutdownSignals } from './shutdown.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
    // Checked before Nest starts, where a failure would only surface as a stack trace in its log.
    if (!config.DATABASE_URL) placeCluster(embeddedClusterDir(config));
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ClusterPlacementError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const app = await createApp(config);
  handleShutdownSignals(app);
  await app.listen(config.PORT, config.HOST);
  const logger = new Logger('Main');
  logger.log(`Listening on http://${config.HOST}:${config.PORT} (public URL ${config.publicUrl})`);
  // Read by libuv before any code of ours runs, so it can only be reported (start:prod sets it).
  const pool = process.env.UV_THREADPOOL_SIZE;
  logger.log(
    `Password hashing on ${pool ? `${pool} libuv threads (UV_THREADPOOL_SIZE)` : "libuv's default 4 threads (UV_THREADPOOL_SIZE unset)"}`,
  );
}

main().catch((error: unknown) => {
  // The application's logger once it exists (a JSON line), else Nest's console logger.
  new Logger('Main').fatal(error instanceof Error ? error : String(error));
  process.exit(1);
});
