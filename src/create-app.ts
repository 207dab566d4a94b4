import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { answerFrameworkError } from './api/framework-errors.js';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { configureApp } from './configure-app.js';
import { bootstrapLogger } from './logging/logging.module.js';
import { loggerParams } from './logging/logger.options.js';
import { requestIdOf } from './logging/request-id.js';

export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter(fastifyOptions(config)),
    // Body parsers are configureApp's: Nest's defaults reject the empty JSON bodies clients send.
    // The logger is the application's own from the first line on (start-up failures too).
    { logger: bootstrapLogger(await loggerParams(config)), bodyParser: false },
  );
  await configureApp(app);
  return app;
}

/** The HTTP server's options, shared by main.ts and the end-to-end tests. */
export const fastifyOptions = (config: AppConfig) => ({
  bodyLimit: config.BODY_LIMIT_BYTES,
  trustProxy: config.trustProxy,
  frameworkErrors: answerFrameworkError,
  // The id of the logs and the X-Request-Id header: Fastify's is what nestjs-pino's middleware gets.
  genReqId: requestIdOf,
});
