import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { answerFrameworkError } from './api/framework-errors.js';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { configureApp } from './configure-app.js';

export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter(fastifyOptions(config)),
    // Body parsers are configureApp's: Nest's defaults reject the empty JSON bodies clients send.
    { logger: loggerLevels(config.LOG_LEVEL), bodyParser: false },
  );
  await configureApp(app);
  return app;
}

/** The HTTP server's options, shared by main.ts and the end-to-end tests. */
export const fastifyOptions = (config: AppConfig) => ({
  bodyLimit: config.BODY_LIMIT_BYTES,
  trustProxy: config.trustProxy,
  frameworkErrors: answerFrameworkError,
});

const LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
/** LOG_LEVEL and every level more severe. */
export const loggerLevels = (level: AppConfig['LOG_LEVEL']) => LEVELS.slice(0, LEVELS.indexOf(level) + 1);
