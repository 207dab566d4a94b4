import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import pg from 'pg';
import { inject } from 'vitest';
import { AppModule } from '../../src/app.module.js';
import { Clock } from '../../src/common/clock.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { configureApp } from '../../src/configure-app.js';
import { fastifyOptions } from '../../src/create-app.js';
import { bootstrapLogger, LOG_DESTINATION } from '../../src/logging/logging.module.js';
import { loggerParams } from '../../src/logging/logger.options.js';
import { DataSource } from 'typeorm';
import { MailDeliveryWorker } from '../../src/mail/mail-delivery.worker.js';
import { forgetRootLogger, LogCapture } from './log-capture.js';
import { SmtpSink } from './smtp-sink.js';
import { TestClock } from './test-clock.js';

export interface TestApp {
  app: NestFastifyApplication;
  baseUrl: string;
  config: AppConfig;
  clock: TestClock;
  mail: SmtpSink;
  db: DataSource;
  worker: MailDeliveryWorker;
  /** Everything the application logged, through the service's own pino set-up (JSON lines). */
  logs: LogCapture;
  /**
   * Waits until no message queued so far is still on its way (each was delivered to the sink, or
   * failed and waits for a retry): a mail count taken next holds still. Security alerts are mailed
   * after the request that caused them has answered, so a count taken right after such a request
   * may still grow by one.
   */
  mailSettled(): Promise<void>;
  /** Stops the application only (as a shutdown does); the SMTP sink and the data stay for inspection. */
  stopApp(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh database (migrated by the app at start) on the run's PostgreSQL. */
export async function createTestDatabase(): Promise<string> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `tfa_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The real application (configureApp and all) on a free port, a fresh database and an SMTP sink.
 * `env.DATABASE_URL` (another test app's `config.DATABASE_URL`) runs a second instance on the same database.
 */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const mail = new SmtpSink();
  await mail.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'tfa-test-data-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    DATABASE_URL: env.DATABASE_URL ?? (await createTestDatabase()),
    SMTP_URL: mail.url,
    APP_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'error',
    RATE_LIMIT_PER_MINUTE: '100000',
    RATE_LIMIT_AUTHENTICATED_PER_MINUTE: '100000',
    RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '100000',
    PUBLIC_URL: 'http://app.test',
    MAIL_WORKER_INTERVAL_MS: '3600000',
    // No scheduled retention runs behind a test's back (tests that move the clock); call it directly.
    RETENTION_INTERVAL_SECONDS: '0',
    ...env,
  });
  const clock = new TestClock();
  const logs = new LogCapture();
  forgetRootLogger();
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    // The production logger at LOG_LEVEL, writing to the capture instead of stdout.
    .setLogger(bootstrapLogger(await loggerParams(config, logs)))
    .overrideProvider(LOG_DESTINATION)
    .useValue(logs)
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(fastifyOptions(config)), {
    bodyParser: false,
  });
  await configureApp(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let stopping: Promise<void> | undefined;
  const stopApp = () => (stopping ??= app.close());
  const db = app.get(DataSource);
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    config,
    clock,
    mail,
    db,
    worker: app.get(MailDeliveryWorker),
    logs,
    async mailSettled() {
      // A first attempt is made at once after the commit: a row that never had one, or is being
      // sent, is on its way. Retries wait for the worker and the clock, not for this.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [{ underway }] = (await db.query(
          `SELECT count(*)::int AS underway FROM mail_outbox WHERE status = 'sending' OR (status = 'pending' AND attempts = 0)`,
        )) as [{ underway: number }];
        if (underway === 0) return;
        if (Date.now() > deadline) throw new Error(`${underway} queued messages were not delivered within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stopApp,
    async close() {
      await stopApp();
      await mail.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
