import type { Server, ServerResponse } from 'node:http';
import { constants } from 'node:os';
import { type INestApplication, Logger } from '@nestjs/common';

export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** Past this the process exits anyway: a client that never finishes its request must not hold it forever. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * Graceful shutdown on SIGTERM, SIGINT and SIGHUP, in place of Nest's enableShutdownHooks: that
 * one re-raises the signal once closed, so even a clean stop ends "killed by SIGTERM" instead of
 * with exit code 0. Nest's close order does the rest: HTTP stops taking requests and drains, then
 * the onApplicationShutdown hooks stop the mail worker, close the pool and stop the embedded
 * database. A second signal exits at once.
 */
export function handleShutdownSignals(app: INestApplication, timeoutMs = SHUTDOWN_TIMEOUT_MS): void {
  const logger = new Logger('Shutdown');
  const server = app.getHttpServer() as Server;
  const inFlight = trackResponses(server);
  let shuttingDown = false;

  const onSignal = (signal: NodeJS.Signals) => {
    const code = 128 + (constants.signals[signal] ?? 0);
    if (shuttingDown) {
      logger.warn(`Shutdown: ${signal} again, exiting without waiting`);
      process.exit(code);
    }
    shuttingDown = true;
    logger.log(`Shutdown: ${signal} received, draining HTTP requests`);
    // Node keeps a keep-alive connection open after its last answer, and server.close() waits for
    // it until the keep-alive timeout (72 s in Fastify). Answers still to come close theirs.
    for (const response of inFlight) if (!response.headersSent) response.setHeader('connection', 'close');
    server.once('close', () => logger.log('Shutdown: HTTP requests drained'));
    setTimeout(() => {
      logger.error(`Shutdown: not done after ${timeoutMs} ms, exiting`);
      process.exit(code);
    }, timeoutMs).unref();
    app.close().then(
      () => {
        logger.log('Shutdown: complete');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error(`Shutdown failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        process.exit(1);
      },
    );
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
}

/** The responses not yet finished, so a shutdown can still change their headers. */
function trackResponses(server: Server): Set<ServerResponse> {
  const inFlight = new Set<ServerResponse>();
  server.on('request', (_request, response: ServerResponse) => {
    inFlight.add(response);
    response.once('close', () => inFlight.delete(response));
  });
  return inFlight;
}
