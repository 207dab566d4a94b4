import { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import { type DestinationStream, type LevelWithSilent, type LogFn, pino } from 'pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../config/app-config.js';
import { redactLogFields, scrubErrorText, scrubText } from './log-redaction.js';
import { currentRequestId, requestSecretsFilter } from './request-secrets.js';

/** LOG_LEVEL keeps Nest's names; pino calls `log` info and `verbose` trace. */
export const PINO_LEVELS: Record<AppConfig['LOG_LEVEL'], LevelWithSilent> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * Strings passed to a log call are scrubbed here, before pino formats them: `formatters.log`
 * only sees the fields object, and pino takes an error's own message as the line's `msg` when
 * the call gives none (that message is a library's, so it is scrubbed as error text).
 */
function logMethod(this: pino.Logger, args: Parameters<LogFn>, method: LogFn): void {
  const [first, ...rest] = args as unknown[];
  const scrubbed = rest.map((arg) => (typeof arg === 'string' ? scrubText(arg) : arg));
  if (typeof first === 'string') return method.apply(this, [scrubText(first), ...scrubbed] as Parameters<LogFn>);
  const error = first instanceof Error ? first : (first as { err?: unknown } | null)?.err;
  if (error instanceof Error && typeof scrubbed[0] !== 'string') scrubbed.unshift(scrubErrorText(error.message));
  return method.apply(this, [first, ...scrubbed] as Parameters<LogFn>);
}

/** Request and response objects are never dumped (headers hold tokens and cookies): only what names the call. */
const serializers = {
  req: (req: IncomingMessage) => ({ method: req.method, path: req.url?.split('?')[0] }),
  res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
  // Errors reach here already reduced by formatters.log; pino's standard serializer would rename them.
  err: (err: unknown) => err,
};

export function pinoOptions(config: AppConfig): Options {
  return {
    level: PINO_LEVELS[config.LOG_LEVEL],
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => redactLogFields(fields),
    },
    hooks: { logMethod },
    serializers,
    wrapSerializers: false,
    // Every line written while handling a request carries its id, and nothing else of it: the
    // access line (request-logging.ts) says what the request was. Read from the request's context
    // rather than bound into a child logger per request (pino-http's way), which cost more than
    // the rest of the logging in the profile of GET /api/v1/me.
    mixin: () => {
      const reqId = currentRequestId();
      return reqId === undefined ? {} : { reqId };
    },
    autoLogging: false,
  };
}

/**
 * Log lines are gathered until this many bytes are waiting, then written in one write(2): a busy
 * service makes one write for a few dozen access lines. A write per line, synchronous or on the
 * thread pool, cost a third of the CPU of GET /api/v1/me (docs/benchmarks.md).
 */
const LOG_BUFFER_BYTES = 4096;

/** …and never wait longer than this, so the lines of a quiet service still show at once to a reader. */
const LOG_FLUSH_INTERVAL_MS = 100;

/** pino's own destination (sonic-boom). */
type SonicBoom = ReturnType<typeof pino.destination>;

let stdout: SonicBoom | undefined;

/**
 * stdout for the log, buffered as above. The writes themselves are synchronous, so lines reach
 * stdout in the order they were logged (an asynchronous write still in flight at exit was
 * overtaken by the exit's own flush: CI saw the shutdown's steps out of order). pino flushes only
 * asynchronous destinations at exit: what is still buffered is written on the process's `exit`
 * event, whoever calls process.exit. Only a SIGKILL loses lines, at most the last interval's.
 */
export function bufferedLogDestination(dest: number | string = 1): SonicBoom {
  const destination = pino.destination({
    dest,
    sync: true,
    minLength: LOG_BUFFER_BYTES,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
  process.once('exit', () => {
    try {
      destination.flushSync();
    } catch {
      // Already closed: nothing is waiting.
    }
  });
  return destination;
}

/**
 * Where the service's log goes: one JSON object per line on stdout; pino-pretty's colored lines
 * when a person watches a terminal outside production. pino-pretty is a development dependency:
 * where it is not installed the log stays JSON.
 */
export async function defaultLogDestination(config: AppConfig): Promise<DestinationStream> {
  if (process.stdout.isTTY && config.NODE_ENV !== 'production') {
    const pretty = await prettyDestination();
    if (pretty) return pretty;
  }
  // One per process: the exit flush is registered once.
  stdout ??= bufferedLogDestination();
  return stdout;
}

async function prettyDestination(): Promise<DestinationStream | null> {
  let prettyFactory: (options: Record<string, unknown>) => (line: string) => string;
  try {
    const module = (await import('pino-pretty')) as { default?: { prettyFactory?: unknown }; prettyFactory?: unknown };
    prettyFactory = (module.default?.prettyFactory ?? module.prettyFactory) as typeof prettyFactory;
    if (typeof prettyFactory !== 'function') return null;
  } catch {
    return null;
  }
  // Formatted in the writing call, not in a worker or a stream pipeline: the last lines before
  // process.exit (the shutdown's) are not lost.
  const prettify = prettyFactory({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return { write: (line: string) => void process.stdout.write(prettify(line)) };
}

/** nestjs-pino's parameters: the pino-http options above, writing to `destination` without the request's credentials. */
export async function loggerParams(config: AppConfig, destination?: DestinationStream | null): Promise<Params> {
  return { pinoHttp: [pinoOptions(config), requestSecretsFilter(destination ?? (await defaultLogDestination(config)))] };
}
