import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { Metrics, METRICS_PATH } from './metrics.js';

/** Answers one request of the metrics listener: GET (or HEAD) /metrics, 404 for any other path, 405 for other methods. */
export async function answerMetricsRequest(metrics: Metrics, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?', 1)[0];
  if (path !== METRICS_PATH) {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method Not Allowed\n');
    return;
  }
  try {
    const text = await metrics.scrape();
    response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : text);
  } catch (error) {
    response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics unavailable\n');
    throw error;
  }
}

/**
 * With METRICS_PORT set, /metrics is served only here: a bare node:http listener on METRICS_HOST
 * (loopback by default), away from the public port, its rate limits and its request metrics.
 * Started once the application is bootstrapped; stopped on shutdown, after the public port drained.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server?: Server;

  constructor(
    private readonly metrics: Metrics,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** The port it listens on (METRICS_PORT=0 picks a free one); undefined when not listening. */
  get port(): number | undefined {
    const address = this.server?.address() as AddressInfo | null | undefined;
    return address?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.METRICS_PORT === undefined) return;
    const server = createServer((request, response) => {
      answerMetricsRequest(this.metrics, request, response).catch((error: unknown) =>
        this.logger.error(`Metrics scrape failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    });
    // A scraper that keeps its connection open must not hold the shutdown up for long.
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.METRICS_PORT, this.config.METRICS_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.error(`Metrics listener: ${error.message}`));
    this.server = server;
    this.logger.log(`Metrics on http://${this.config.METRICS_HOST}:${this.port}${METRICS_PATH}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // A scrape still being answered gets a moment; a connection kept open after it does not.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
    this.logger.log('Shutdown: metrics listener stopped');
  }
}
