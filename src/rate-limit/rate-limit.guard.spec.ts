import { Controller, type ExecutionContext, Logger, Post } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { CodeCheck, isCodeCheckRoute, RateLimitGuard } from './rate-limit.guard.js';
import { RateLimitStorage } from './rate-limit.storage.js';

@Controller()
class ExampleController {
  @Post('verify')
  @CodeCheck()
  verify() {}

  @Post('other')
  other() {}
}

/** An HTTP execution context for one handler of ExampleController, with a reply that records its headers. */
function contextFor(handler: 'verify' | 'other', ip = '192.0.2.1') {
  const headers: Record<string, unknown> = {};
  const request = { ip, headers: {} };
  const reply = { header: (name: string, value: unknown) => (headers[name] = value) };
  const context = {
    getHandler: () => ExampleController.prototype[handler],
    getClass: () => ExampleController,
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ExecutionContext;
  return { context, headers };
}

const configWith = (values: Partial<AppConfig>): AppConfig => Object.assign(new AppConfig(), values);

async function guardOver(counters: RateLimitStorage, limit: number): Promise<RateLimitGuard> {
  return Promise.resolve(new RateLimitGuard(counters, configWith({ RATE_LIMIT_PER_MINUTE: limit })));
}

/** The guard's answer as Nest sees it: a refusal thrown at once becomes a rejection. */
const activate = async (guard: RateLimitGuard, context: ExecutionContext): Promise<boolean> => guard.canActivate(context);

describe('CodeCheck', () => {
  it('is told by the metadata on the route, not by its path', () => {
    expect(isCodeCheckRoute(contextFor('verify').context)).toBe(true);
    expect(isCodeCheckRoute(contextFor('other').context)).toBe(false);
  });
});

describe('RateLimitGuard with REDIS_URL set and nothing listening there', () => {
  let counters: RateLimitStorage;
  const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

  beforeAll(() => {
    counters = new RateLimitStorage(
      configWith({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_KEY_PREFIX: 'unit:', REDIS_COMMAND_TIMEOUT_MS: 250 }),
    );
  });

  afterAll(async () => {
    await counters.onApplicationShutdown();
    warn.mockRestore();
  });

  it('refuses a code check with 503 RateLimitUnavailable and Retry-After, counting nothing', async () => {
    const guard = await guardOver(counters, 2);
    const { context, headers } = contextFor('verify');
    const started = Date.now();
    const refusal = await activate(guard, context).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(DomainError);
    expect(refusal).toMatchObject({ code: ErrorCode.RateLimitUnavailable, details: { retryAfterSeconds: 5 } });
    expect(headers).toEqual({ 'Retry-After': 5 });
    // Fails fast (no offline queue), well within the command timeout.
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('limits other routes per process instead, with one warning however many requests', async () => {
    const guard = await guardOver(counters, 2);
    const answers: string[] = [];
    for (let request = 0; request < 3; request++) {
      const { context } = contextFor('other', '192.0.2.7');
      answers.push(
        await activate(guard, context).then(
          () => 'allowed',
          (error: DomainError) => error.code,
        ),
      );
    }
    expect(answers).toEqual(['allowed', 'allowed', ErrorCode.RateLimited]);
    // Code checks are still refused, not counted in the process.
    await expect(activate(guard, contextFor('verify', '192.0.2.7').context)).rejects.toMatchObject({
      code: ErrorCode.RateLimitUnavailable,
    });
    const warnings = warn.mock.calls
      .map(([message]) => String(message))
      .filter((message) => message.includes('Redis unreachable'));
    expect(warnings).toHaveLength(1);
  });
});

describe('RateLimitGuard counting in this process (no REDIS_URL)', () => {
  let counters: RateLimitStorage;

  beforeAll(() => {
    counters = new RateLimitStorage(configWith({}));
  });

  afterAll(() => counters.onApplicationShutdown());

  it('answers at once, without a promise, and refuses past the limit with the limit headers', async () => {
    const guard = await guardOver(counters, 2);
    const first = contextFor('other', '192.0.2.9');
    // A plain boolean: Nest then awaits nothing for this guard on every request.
    expect(guard.canActivate(first.context)).toBe(true);
    expect(first.headers).toEqual({ 'X-RateLimit-Limit': 2, 'X-RateLimit-Remaining': 1, 'X-RateLimit-Reset': 60 });
    expect(guard.canActivate(contextFor('other', '192.0.2.9').context)).toBe(true);
    const third = contextFor('other', '192.0.2.9');
    expect(() => guard.canActivate(third.context)).toThrow(expect.objectContaining({ code: ErrorCode.RateLimited }));
    expect(third.headers).toMatchObject({ 'Retry-After': 60, 'X-RateLimit-Remaining': 0 });
    // Code checks count in the same process memory: there is no other count to share.
    await expect(activate(guard, contextFor('verify', '192.0.2.9').context)).resolves.toBe(true);
  });
});
