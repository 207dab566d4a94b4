import type { DestinationStream } from 'pino';
// nestjs-pino keeps one root logger per process, built by the first application that asks; each
// test application needs its own (its level, its capture). Not part of the package's exports.
import { __resetOutOfContextForTests } from '../../node_modules/nestjs-pino/dist/esm/PinoLogger.js';

/** One line of the service's log, as parsed JSON. */
export interface LogEntry {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  time: string;
  msg?: string;
  context?: string;
  reqId?: string;
  [field: string]: unknown;
}

/**
 * The destination of a test application's log: every line kept in memory, errors also shown on
 * stderr (as the console logger did before), so a failing test shows what the server logged.
 */
export class LogCapture implements DestinationStream {
  readonly lines: string[] = [];

  write(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      this.lines.push(line);
      if (/^\{"level":"(error|fatal)"/.test(line)) process.stderr.write(`${line}\n`);
    }
  }

  /** Every line parsed; throws on one that is not a JSON object, which would be a defect. */
  entries(): LogEntry[] {
    return this.lines.map((line) => {
      const entry: unknown = JSON.parse(line);
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new Error(`not a JSON object: ${line}`);
      return entry as LogEntry;
    });
  }

  /** The log as written, for searching it whole. */
  text(): string {
    return this.lines.join('\n');
  }

  /**
   * The first entry `match` accepts, once written: the access line follows the answer by a moment
   * (it is written when the response closes), so a test that has its answer may not have the line yet.
   */
  async waitFor(match: (entry: LogEntry) => boolean, timeoutMs = 5000): Promise<LogEntry> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.entries().find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no such log line was written');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Before each test application: it builds its own root logger instead of reusing another's. */
export const forgetRootLogger = (): void => __resetOutOfContextForTests();
