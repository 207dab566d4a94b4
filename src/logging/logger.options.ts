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

let stdout: DestinationStream | undefined;

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
  // Asynchronous: a line is written at once when no write is in progress, and the lines logged
  // meanwhile go out together in the next write, so a busy service makes one write for many lines
  // rather than a blocking write per line (which showed in the profile of GET /api/v1/me). Every
  // deliberate exit waits for `logDrained()` first. One per process.
  stdout ??= pino.destination({ dest: 1, sync: false });
  return stdout;
}

/** What `logDrained` needs of sonic-boom: `_writing` is private, but it is the only way to know. */
interface AsyncDestination {
  _writing?: boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Resolves once the log's last write has reached stdout. To call before process.exit: pino's own
 * exit handler writes what is still buffered synchronously, but not the asynchronous write already
 * in flight on the thread pool, so without this the last lines were reordered (seen in CI: "Shutdown:
 * complete" before "embedded PostgreSQL stopped") or lost. Bounded: a stdout nobody reads must not
 * keep a stopping process alive.
 */
export function logDrained(timeoutMs = 2_000, destination = stdout as AsyncDestination | undefined): Promise<void> {
  if (!destination?._writing) return Promise.resolve();
  return new Promise((resolve) => {
    setTimeout(resolve, timeoutMs).unref();
    destination.once('drain', resolve);
  });
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
