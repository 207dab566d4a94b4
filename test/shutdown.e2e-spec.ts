import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildService,
  errorLines,
  messagesInLogOrder,
  sigtermWithRequestsInFlight,
  startService,
  type ServiceProcess,
} from './helpers/service-process.js';
import { createTestDatabase } from './helpers/test-app.js';

const BUILD_DIR = '.test-build-shutdown';
const IN_FLIGHT = 20;

/**
 * The service as deployed: an external PostgreSQL (DATABASE_URL), stopped by its orchestrator with
 * SIGTERM while clients are mid-request. The embedded case is in service-process.e2e-spec.ts.
 */
describe('shutdown with DATABASE_URL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tfa-shutdown-'));
  let service: ServiceProcess;

  beforeAll(async () => {
    await buildService(BUILD_DIR);
    service = await startService(BUILD_DIR, {
      DATA_DIR: dataDir,
      DATABASE_URL: await createTestDatabase(),
      // The held logins come from one address; the default limit would answer half of them 429.
      RATE_LIMIT_PER_MINUTE: '1000',
    });
  }, 180_000);

  afterAll(async () => {
    await service?.kill();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(BUILD_DIR, { recursive: true, force: true });
  });

  it('answers every request in flight on SIGTERM, closes down step by step and exits 0', async () => {
    const { outcomes, exit, signalledAt } = await sigtermWithRequestsInFlight(service, IN_FLIGHT);

    // Wrong credentials: 401 each, from a live database (no ECONNRESET, no 503).
    expect(outcomes).toEqual(Array(IN_FLIGHT).fill(401));
    expect(exit).toEqual({ code: 0, signal: null });
    const steps = [
      'Shutdown: SIGTERM received, draining HTTP requests',
      'Shutdown: HTTP requests drained',
      'Shutdown: mail worker stopped',
      'Shutdown: database pool closed',
      'Shutdown: complete',
    ];
    // The log is JSON lines (parsing throws on any other line); the steps are their messages.
    const logs = service.logs();
    expect(messagesInLogOrder(logs, steps)).toEqual(steps);
    expect(logs.filter((entry) => String(entry.msg).includes('embedded PostgreSQL'))).toEqual([]);
    expect(errorLines(logs)).toEqual([]);
    // Each held request got its access line, written before the server was done draining.
    const accessLines = logs.filter((entry) => entry.msg === 'request completed' && entry.route === '/api/v1/login');
    expect(accessLines).toHaveLength(IN_FLIGHT);
    expect(accessLines.every((entry) => entry.status === 401 && typeof entry.reqId === 'string')).toBe(true);
    // Kept-alive connections are closed after their answer, not held to the keep-alive timeout.
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
  });
});
