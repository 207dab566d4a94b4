import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import { REDACTED } from './log-redaction.js';
import { bufferedLogDestination, PINO_LEVELS, pinoOptions } from './logger.options.js';
import { withRequestLogContext } from './request-secrets.js';

const config = (overrides: Partial<AppConfig> = {}) => ({ LOG_LEVEL: 'log', NODE_ENV: 'development', ...overrides }) as AppConfig;

/** A pino logger with the service's options, and the lines it wrote. */
function capture(level: AppConfig['LOG_LEVEL'] = 'verbose') {
  const lines: string[] = [];
  const logger = pino(pinoOptions(config({ LOG_LEVEL: level })), { write: (line: string) => void lines.push(line) });
  return { logger, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>), lines };
}

describe('levels', () => {
  it("maps LOG_LEVEL's Nest names to pino's", () => {
    expect(PINO_LEVELS).toEqual({ fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' });
    expect(pinoOptions(config({ LOG_LEVEL: 'log' })).level).toBe('info');
  });

  it('writes the levels at LOG_LEVEL and above, labelled by name', () => {
    const { logger, entries } = capture('warn');
    logger.info('not shown');
    logger.warn('shown');
    logger.error('shown too');
    expect(entries().map((entry) => [entry.level, entry.msg])).toEqual([
      ['warn', 'shown'],
      ['error', 'shown too'],
    ]);
  });
});

describe('lines', () => {
  it('are one JSON object per line with an ISO time', () => {
    const { logger, lines } = capture();
    logger.info({ context: 'Test' }, 'hello');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      context: 'Test',
      msg: 'hello',
    });
  });

  it('never hold a secret field, nor a secret shape in the message', () => {
    const { logger, entries } = capture();
    logger.info(
      { body: { user: 'alice', password: 'hunter2hunter2' }, headers: { cookie: 'a=b' } },
      'login %s',
      'password=hunter2hunter2',
    );
    const [entry] = entries();
    expect(entry).toMatchObject({
      body: { user: 'alice', password: REDACTED },
      headers: { cookie: REDACTED },
      msg: `login password=${REDACTED}`,
    });
  });

  it('reduce an error to its type, message and stack, and give its scrubbed message when the call has none', () => {
    const { logger, entries } = capture();
    const error = Object.assign(new Error('duplicate key "hunter2hunter2"'), { parameters: ['hunter2hunter2'] });
    logger.error(error);
    logger.error({ err: error, context: 'V1' });
    logger.error({ err: error }, 'POST /api/v1/login failed (INTERNAL)');
    const [alone, withContext, withMessage] = entries();
    expect(alone).toMatchObject({
      msg: `duplicate key "${REDACTED}"`,
      err: { type: 'Error', message: `duplicate key "${REDACTED}"` },
    });
    expect(withContext).toMatchObject({ context: 'V1', msg: `duplicate key "${REDACTED}"` });
    expect(withMessage).toMatchObject({ msg: 'POST /api/v1/login failed (INTERNAL)' });
    expect(Object.keys(alone!.err as object).sort()).toEqual(['message', 'stack', 'type']);
    expect(JSON.stringify(entries())).not.toContain('hunter2hunter2');
  });

  it('of a request carry its id (from the request context), outside one none', async () => {
    const options = pinoOptions(config());
    expect(options).toMatchObject({ autoLogging: false, wrapSerializers: false });
    const mixin = options.mixin as () => object;
    expect(mixin()).toEqual({});
    const inside = await new Promise<object>((resolve) =>
      withRequestLogContext('given-id', { headers: {} }, () => setImmediate(() => resolve(mixin()))),
    );
    expect(inside).toEqual({ reqId: 'given-id' });
  });
});

describe('the destination', () => {
  const tty = process.stdout.isTTY;
  afterEach(() => {
    process.stdout.isTTY = tty;
    vi.doUnmock('pino-pretty');
    vi.resetModules();
    vi.restoreAllMocks();
  });

  /** What the default destination prints for one info line, with stdout a terminal or not. */
  async function printed(isTTY: boolean, nodeEnv: AppConfig['NODE_ENV']): Promise<string> {
    process.stdout.isTTY = isTTY;
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const { defaultLogDestination } = await import('./logger.options.js');
    const destination = await defaultLogDestination(config({ NODE_ENV: nodeEnv }));
    if (destination instanceof Writable || !('fd' in destination)) {
      destination.write(`${JSON.stringify({ level: 'info', time: '2026-01-01T00:00:00.000Z', msg: 'hello' })}\n`);
      return written.join('');
    }
    return 'JSON to fd 1';
  }

  it('is pino-pretty on a terminal outside production', async () => {
    const output = await printed(true, 'development');
    expect(output).toContain('INFO');
    expect(output).toContain('hello');
    expect(output).not.toContain('{"level"');
  });

  it('is JSON on stdout when stdout is not a terminal, or in production', async () => {
    await expect(printed(false, 'development')).resolves.toBe('JSON to fd 1');
    await expect(printed(true, 'production')).resolves.toBe('JSON to fd 1');
  });

  it('falls back to JSON when pino-pretty is not installed', async () => {
    vi.doMock('pino-pretty', () => {
      throw new Error("Cannot find package 'pino-pretty'");
    });
    await expect(printed(true, 'development')).resolves.toBe('JSON to fd 1');
  });
});

describe('the buffered log destination', () => {
  let dir: string;
  let file: string;
  const read = () => readFileSync(file, 'utf8');
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tfa-log-'));
    file = join(dir, 'log');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds short lines back for at most the flush interval, then writes them in one go, in order', async () => {
    const destination = bufferedLogDestination(file);
    try {
      destination.write('first\n');
      destination.write('second\n');
      expect(read()).toBe('');
      await sleep(300);
      expect(read()).toBe('first\nsecond\n');
    } finally {
      destination.destroy();
    }
  });

  it('writes at once when 4 KiB are waiting', () => {
    const destination = bufferedLogDestination(file);
    try {
      const line = `${'x'.repeat(99)}\n`;
      for (let i = 0; i < 41; i++) destination.write(line);
      expect(read()).toBe(line.repeat(41));
    } finally {
      destination.destroy();
    }
  });

  it('writes what is waiting when the process exits (pino does that only for asynchronous destinations)', () => {
    const once = vi.spyOn(process, 'once');
    const destination = bufferedLogDestination(file);
    const onExit = once.mock.calls.find(([event]) => event === 'exit')?.[1] as (() => void) | undefined;
    once.mockRestore();
    process.removeListener('exit', onExit!);
    try {
      destination.write('last words\n');
      expect(read()).toBe('');
      onExit!();
      expect(read()).toBe('last words\n');
    } finally {
      destination.destroy();
    }
  });
});
