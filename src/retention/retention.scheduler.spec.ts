import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import {
  RETENTION_FIRST_RUN,
  RETENTION_FIRST_RUN_DELAY_MS,
  RETENTION_INTERVAL,
  RetentionScheduler,
} from './retention.scheduler.js';
import type { RetentionOutcome, RetentionService } from './retention.service.js';

const DONE: RetentionOutcome = {
  ran: true,
  deleted: { email_codes: 0, challenges: 0, mail_outbox: 0, audit_events: 0 },
  batches: 4,
  stopped: false,
};

describe('RetentionScheduler', () => {
  let registry: SchedulerRegistry;
  let service: { run: ReturnType<typeof vi.fn>; stop: ReturnType<typeof vi.fn> };
  const scheduler = (intervalSeconds: number) =>
    new RetentionScheduler(service as unknown as RetentionService, registry, {
      RETENTION_INTERVAL_SECONDS: intervalSeconds,
    } as AppConfig);

  beforeEach(() => {
    vi.useFakeTimers();
    for (const level of ['log', 'error'] as const) vi.spyOn(Logger.prototype, level).mockImplementation(() => undefined);
    registry = new SchedulerRegistry();
    service = { run: vi.fn(async () => DONE), stop: vi.fn() };
  });
  afterEach(() => {
    for (const name of registry.getIntervals()) registry.deleteInterval(name);
    for (const name of registry.getTimeouts()) registry.deleteTimeout(name);
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('runs once shortly after start, then every RETENTION_INTERVAL_SECONDS', async () => {
    scheduler(3600).onApplicationBootstrap();
    expect(registry.getTimeouts()).toEqual([RETENTION_FIRST_RUN]);
    expect(registry.getIntervals()).toEqual([RETENTION_INTERVAL]);

    await vi.advanceTimersByTimeAsync(RETENTION_FIRST_RUN_DELAY_MS - 1);
    expect(service.run).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(service.run).toHaveBeenCalledTimes(1);
    // The first-run timer is gone from the registry once it has fired.
    expect(registry.getTimeouts()).toEqual([]);

    await vi.advanceTimersByTimeAsync(3600_000 - RETENTION_FIRST_RUN_DELAY_MS);
    expect(service.run).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(2 * 3600_000);
    expect(service.run).toHaveBeenCalledTimes(4);
  });

  it('with the shortest interval (60 s): at 10 s, then every minute', async () => {
    scheduler(60).onApplicationBootstrap();
    await vi.advanceTimersByTimeAsync(RETENTION_FIRST_RUN_DELAY_MS);
    expect(service.run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60_000 - RETENTION_FIRST_RUN_DELAY_MS);
    expect(service.run).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(service.run).toHaveBeenCalledTimes(3);
  });

  it('schedules nothing at RETENTION_INTERVAL_SECONDS=0', async () => {
    scheduler(0).onApplicationBootstrap();
    expect(registry.getTimeouts()).toEqual([]);
    expect(registry.getIntervals()).toEqual([]);
    await vi.advanceTimersByTimeAsync(30 * 86_400_000);
    expect(service.run).not.toHaveBeenCalled();
  });

  it('does not start a run while the previous one is still going, and survives a failed run', async () => {
    let finish!: (outcome: RetentionOutcome) => void;
    service.run.mockImplementationOnce(() => new Promise<RetentionOutcome>((resolve) => (finish = resolve)));
    service.run.mockRejectedValueOnce(new Error('database went away'));
    scheduler(60).onApplicationBootstrap();
    await vi.advanceTimersByTimeAsync(60_000 * 3);
    expect(service.run).toHaveBeenCalledTimes(1);
    finish(DONE);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(service.run).toHaveBeenCalledTimes(2); // this one fails (logged)
    await vi.advanceTimersByTimeAsync(60_000);
    expect(service.run).toHaveBeenCalledTimes(3);
  });

  it('on shutdown: tells the run in progress to stop, clears its timers and waits for the run', async () => {
    let finish!: (outcome: RetentionOutcome) => void;
    service.run.mockImplementationOnce(() => new Promise<RetentionOutcome>((resolve) => (finish = resolve)));
    const job = scheduler(3600);
    job.onApplicationBootstrap();
    await vi.advanceTimersByTimeAsync(RETENTION_FIRST_RUN_DELAY_MS);
    expect(service.run).toHaveBeenCalledTimes(1);

    job.beforeApplicationShutdown();
    expect(service.stop).toHaveBeenCalled();
    expect(registry.getIntervals()).toEqual([]);
    let stopped = false;
    const shutdown = job.onApplicationShutdown().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish({ ...DONE, stopped: true });
    await shutdown;
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(7 * 86_400_000);
    expect(service.run).toHaveBeenCalledTimes(1);
  });
});
