import { afterEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import { MetricsServer } from './metrics-server.js';
import { Metrics } from './metrics.js';

const config = (overrides: Partial<AppConfig>) => ({ METRICS_HOST: '127.0.0.1', ...overrides }) as AppConfig;

describe('MetricsServer', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => server?.onApplicationShutdown());

  it('does not listen without METRICS_PORT', async () => {
    server = new MetricsServer(new Metrics(), config({ METRICS_PORT: undefined }));
    await server.onApplicationBootstrap();
    expect(server.port).toBeUndefined();
  });

  it('serves GET and HEAD /metrics in the text format, 404 elsewhere, 405 for other methods; stops on shutdown', async () => {
    const metrics = new Metrics();
    metrics.lockedOut();
    server = new MetricsServer(metrics, config({ METRICS_PORT: 0 }));
    await server.onApplicationBootstrap();
    const base = `http://127.0.0.1:${server.port}`;

    const res = await fetch(`${base}/metrics?x=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toMatch(/^tfa_lockouts_total 1$/m);

    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/more`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');

    await server.onApplicationShutdown();
    server = undefined;
    await expect(fetch(`${base}/metrics`)).rejects.toThrow();
  });

  it('refuses to start on a port in use', async () => {
    server = new MetricsServer(new Metrics(), config({ METRICS_PORT: 0 }));
    await server.onApplicationBootstrap();
    const second = new MetricsServer(new Metrics(), config({ METRICS_PORT: server.port }));
    await expect(second.onApplicationBootstrap()).rejects.toThrow(/EADDRINUSE/);
  });
});
