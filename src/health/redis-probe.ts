import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';

/**
 * PING to the REDIS_URL server for the readiness probe, on a connection of its own (the rate
 * limiter's is private to it), opened at the first probe and kept. A probe never waits in a queue:
 * while the server is unreachable it fails at once or after `timeoutMs`.
 */
@Injectable()
export class RedisProbe implements OnApplicationShutdown {
  private readonly logger = new Logger('Health');
  private client?: Redis;

  constructor(@Inject(AppConfig) private readonly config: AppConfig) {}

  get configured(): boolean {
    return Boolean(this.config.REDIS_URL);
  }

  /** Whether Redis answered PONG within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<boolean> {
    const client = this.connection();
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        client.ping(),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return answer === 'PONG';
    } catch (error) {
      this.logger.debug(`Redis PING failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // quit() would wait for a server that may not be there.
    this.client?.disconnect();
  }

  private connection(): Redis {
    this.client ??= this.open();
    return this.client;
  }

  private open(): Redis {
    const client = new Redis(this.config.REDIS_URL!, {
      lazyConnect: true,
      connectTimeout: 2000,
      // A command fails on the first failed connection attempt instead of being retried.
      maxRetriesPerRequest: 0,
      // Reconnects in the background, at most every 5 s, so a recovered server is seen again.
      retryStrategy: (attempt) => Math.min(attempt * 500, 5000),
    });
    // Without a listener ioredis reports connection problems as unhandled errors; the rate limiter
    // already warns about the same server, the probe's answer says the rest.
    client.on('error', (error: Error) => this.logger.debug(`Redis: ${error.message}`));
    return client;
  }
}
