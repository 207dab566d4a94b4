import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HttpMetrics, UNMATCHED_ROUTE } from './http-metrics.js';

/** The registry's text for `http`, as Prometheus would read it. */
async function render(http: HttpMetrics): Promise<string> {
  const registry = new Registry();
  for (const metric of http.collectors()) registry.registerMetric(metric);
  return registry.metrics();
}

/** `name{labels} value` lines of the text, as a map from `name{labels}` to the value. */
const samples = (text: string): Map<string, number> =>
  new Map(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => {
        const at = line.lastIndexOf(' ');
        return [line.slice(0, at), Number(line.slice(at + 1))];
      }),
  );

describe('HttpMetrics', () => {
  it('counts requests and fills cumulative buckets, _sum and _count per route template, method and status', async () => {
    const http = new HttpMetrics(new Set(), [0.01, 0.1, 1]);
    http.record('/api/users/me/sessions/:id', 'DELETE', 200, 0.005);
    http.record('/api/users/me/sessions/:id', 'DELETE', 200, 0.05);
    http.record('/api/users/me/sessions/:id', 'DELETE', 200, 0.1); // on a bound: that bucket (le is "≤")
    http.record('/api/users/me/sessions/:id', 'DELETE', 200, 3); // past the last bound: +Inf only
    http.record('/api/users/me/sessions/:id', 'DELETE', 404, 0.002);

    const values = samples(await render(http));
    const labels = 'route="/api/users/me/sessions/:id",method="DELETE",status="200"';
    expect(values.get(`http_requests_total{${labels}}`)).toBe(4);
    expect(values.get(`http_request_duration_seconds_bucket{${labels},le="0.01"}`)).toBe(1);
    expect(values.get(`http_request_duration_seconds_bucket{${labels},le="0.1"}`)).toBe(3);
    expect(values.get(`http_request_duration_seconds_bucket{${labels},le="1"}`)).toBe(3);
    expect(values.get(`http_request_duration_seconds_bucket{${labels},le="+Inf"}`)).toBe(4);
    expect(values.get(`http_request_duration_seconds_sum{${labels}}`)).toBeCloseTo(3.155, 10);
    expect(values.get(`http_request_duration_seconds_count{${labels}}`)).toBe(4);
    expect(values.get('http_requests_total{route="/api/users/me/sessions/:id",method="DELETE",status="404"}')).toBe(1);
  });

  it('gives unmatched requests one route label, and unusual methods one method label', async () => {
    const http = new HttpMetrics();
    http.record(undefined, 'GET', 404, 0.001);
    http.record(undefined, 'GET', 404, 0.001);
    http.record(undefined, 'PROPFIND', 404, 0.001);
    http.record(undefined, 'MKCOL', 404, 0.001);
    const text = await render(http);
    const values = samples(text);
    expect(values.get(`http_requests_total{route="${UNMATCHED_ROUTE}",method="GET",status="404"}`)).toBe(2);
    expect(values.get(`http_requests_total{route="${UNMATCHED_ROUTE}",method="OTHER",status="404"}`)).toBe(2);
    expect([...values.keys()].filter((key) => key.startsWith('http_requests_total'))).toHaveLength(2);
    expect(text).not.toContain('PROPFIND');
  });

  it('leaves excluded routes out entirely', async () => {
    const http = new HttpMetrics(new Set(['/metrics']));
    http.record('/metrics', 'GET', 200, 0.01);
    http.record('/health', 'GET', 200, 0.01);
    const text = await render(http);
    expect(text).not.toContain('/metrics');
    expect(samples(text).get('http_requests_total{route="/health",method="GET",status="200"}')).toBe(1);
  });

  it('declares a counter and a histogram, with no sample before the first request', async () => {
    const text = await render(new HttpMetrics());
    expect(text).toContain('# TYPE http_requests_total counter');
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(samples(text).size).toBe(0);
  });

  it('escapes label values as the text format wants', async () => {
    const http = new HttpMetrics();
    http.record('/odd/"quoted"\\path', 'GET', 200, 0.01);
    expect(await render(http)).toContain('route="/odd/\\"quoted\\"\\\\path"');
  });

  it('reset zeroes every series (the registry resetMetrics)', async () => {
    const http = new HttpMetrics();
    http.record('/health', 'GET', 200, 0.01);
    const registry = new Registry();
    for (const metric of http.collectors()) registry.registerMetric(metric);
    registry.resetMetrics();
    http.record('/health', 'GET', 200, 0.01);
    expect(samples(await registry.metrics()).get('http_requests_total{route="/health",method="GET",status="200"}')).toBe(1);
  });
});
