import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import { pinoOptions } from './logger.options.js';
import { type AccessLine, accessLineText } from './request-logging.js';

/** The service's root logger (its options, pino's default bindings) and the lines it wrote. */
function root() {
  const lines: string[] = [];
  const logger = pino(pinoOptions({ LOG_LEVEL: 'verbose', NODE_ENV: 'production' } as AppConfig), {
    write: (line: string) => void lines.push(line),
  });
  return { logger, lines };
}

const withoutTime = (text: string) => {
  const { time, ...rest } = JSON.parse(text) as Record<string, unknown>;
  expect(time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  return rest;
};

describe('accessLineText', () => {
  const lines: Array<[string, AccessLine, 'info' | 'warn' | 'error' | 'debug']> = [
    ['a full line', { method: 'GET', route: '/api/v1/me', status: 200, durationMs: 1.3, userId: 'user-1' }, 'info'],
    ['no route matched, no user', { method: 'POST', status: 404, durationMs: 0 }, 'info'],
    ['an aborted request', { method: 'PUT', route: '/api/auth/me', status: 200, durationMs: 12.5, aborted: true }, 'info'],
    ['a failure', { method: 'DELETE', route: '/api/users/me/sessions/:id', status: 500, durationMs: 3, userId: 'u"2' }, 'error'],
    ['a probe', { method: 'GET', route: '/health/live', status: 200, durationMs: 0.1 }, 'debug'],
  ];

  it.each(lines)('writes %s exactly as pino would write it through the service logger', (_name, line, level) => {
    const { logger, lines: written } = root();
    logger[level]({ reqId: 'req-1', ...line }, line.aborted ? 'request aborted' : 'request completed');
    const built = accessLineText(logger, 'req-1', line, level);
    expect(built.endsWith('}\n')).toBe(true);
    expect(withoutTime(built)).toEqual(withoutTime(written[0]!));
    // Same keys in the same order: a reader of the raw log sees no difference either.
    expect(Object.keys(JSON.parse(built) as object)).toEqual(Object.keys(JSON.parse(written[0]!) as object));
  });

  it("carries a child logger's bindings, as pino does", () => {
    const { logger } = root();
    const child = logger.child({ service: 'tfa' });
    const text = accessLineText(child, 'req-2', { method: 'GET', status: 200, durationMs: 1 }, 'info');
    expect(JSON.parse(text)).toMatchObject({ service: 'tfa', pid: process.pid, reqId: 'req-2' });
  });
});
