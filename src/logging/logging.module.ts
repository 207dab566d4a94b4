import { Module } from '@nestjs/common';
import { Logger, LoggerModule, type Params, PinoLogger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppConfig } from '../config/app-config.js';
import { loggerParams } from './logger.options.js';

/**
 * Where log lines are written: null for the service's default (stdout, see defaultLogDestination).
 * The end-to-end tests put a stream of their own here, to read what the application logged.
 */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/**
 * Structured logs through pino (nestjs-pino): every `Logger` of the application writes JSON lines
 * with its context, and those written while handling a request carry its id. The HTTP side (request
 * ids, access lines) is set up by registerRequestLogging.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      providers: [{ provide: LOG_DESTINATION, useValue: null }],
      inject: [AppConfig, LOG_DESTINATION],
      useFactory: async (config: AppConfig, destination: DestinationStream | null): Promise<Params> => ({
        ...(await loggerParams(config, destination)),
        // No per-request middleware (a pino-http child logger per request): the request's context
        // is set by registerRequestLogging, and pino's mixin reads the request id from it.
        forRoutes: [],
      }),
    }),
  ],
})
export class LoggingModule {}

/**
 * The application's logger before its modules exist, for Nest's own start-up lines (and failures),
 * configured like the module's: nestjs-pino keeps one root logger per process, built by whichever
 * asks first with these parameters.
 */
export const bootstrapLogger = (params: Params): Logger => new Logger(new PinoLogger(params), params);
