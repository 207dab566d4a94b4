import type { Metric } from 'prom-client';

/** Seconds; from a cheap health probe (~1 ms) to a slow argon2 login and a mail sent while the request waits. */
export const HTTP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The `route` label of a request no route matched (a 404): one value, whatever the URL was. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Methods that get their own `method` label value; anything else is `OTHER`. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const OTHER_METHOD = METHODS.length;
const METHOD_LABELS: readonly string[] = [...METHODS, 'OTHER'];
const METHOD_INDEX = new Map<string, number>(METHODS.map((method, index) => [method, index]));

/** One label set's numbers: bucket counts not cumulative (the last slot is +Inf), summed up at scrape time. */
interface Series {
  readonly route: string;
  readonly method: string;
  readonly status: string;
  count: number;
  sum: number;
  readonly buckets: Float64Array;
}

/**
 * HTTP requests by route template, method and status: `http_requests_total` and the
 * `http_request_duration_seconds` histogram. Recording is on every request's path, so it is a
 * few map lookups and additions: no label objects, no strings built, no prom-client call (whose
 * observe() hashes the labels every time). The registry reads the numbers at scrape time
 * through the two collector objects `collectors()` returns.
 *
 * Cardinality stays bounded: the route is the template Fastify matched (never the URL), requests
 * no route matched share UNMATCHED_ROUTE, and unusual methods share `OTHER`.
 */
export class HttpMetrics {
  /** Route template (undefined: unmatched) → (status × 16 + method index) → series; null: not recorded. */
  private readonly routes = new Map<string | undefined, Map<number, Series> | null>();
  /** Every series in creation order, for the scrape. */
  private readonly series: Series[] = [];

  /** `excludedRoutes`: route templates not recorded at all (the metrics route itself). */
  constructor(
    private readonly excludedRoutes: ReadonlySet<string> = new Set(),
    private readonly upperBounds: readonly number[] = HTTP_DURATION_BUCKETS,
  ) {}

  record(route: string | undefined, method: string, status: number, seconds: number): void {
    let byKey = this.routes.get(route);
    if (byKey === undefined) {
      byKey = route !== undefined && this.excludedRoutes.has(route) ? null : new Map();
      this.routes.set(route, byKey);
    }
    if (byKey === null) return;
    const methodIndex = METHOD_INDEX.get(method) ?? OTHER_METHOD;
    const key = status * 16 + methodIndex;
    let series = byKey.get(key);
    if (series === undefined) {
      series = {
        route: route ?? UNMATCHED_ROUTE,
        method: METHOD_LABELS[methodIndex]!,
        status: String(status),
        count: 0,
        sum: 0,
        buckets: new Float64Array(this.upperBounds.length + 1),
      };
      byKey.set(key, series);
      this.series.push(series);
    }
    series.count += 1;
    series.sum += seconds;
    const bounds = this.upperBounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket += 1;
    series.buckets[bucket]! += 1;
  }

  /** The two metrics, for `registry.registerMetric`: read only when the registry renders them. */
  collectors(): Metric[] {
    return [
      this.collector('http_requests_total', 'HTTP requests answered, by route template, method and status', 'counter', () =>
        this.series.map((series) => ({ value: series.count, labels: labelsOf(series) })),
      ),
      this.collector(
        'http_request_duration_seconds',
        'Time from receiving an HTTP request to finishing its answer, by route template, method and status',
        'histogram',
        () => this.histogramValues(),
      ),
    ];
  }

  private histogramValues() {
    const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
    for (const series of this.series) {
      const labels = labelsOf(series);
      let cumulative = 0;
      this.upperBounds.forEach((bound, index) => {
        cumulative += series.buckets[index]!;
        values.push({ value: cumulative, labels: { ...labels, le: bound }, metricName: 'http_request_duration_seconds_bucket' });
      });
      values.push({ value: series.count, labels: { ...labels, le: '+Inf' }, metricName: 'http_request_duration_seconds_bucket' });
      values.push({ value: series.sum, labels, metricName: 'http_request_duration_seconds_sum' });
      values.push({ value: series.count, labels, metricName: 'http_request_duration_seconds_count' });
    }
    return values;
  }

  /**
   * A metric prom-client's Registry can hold and render: it only calls `get()` (and `reset()`),
   * and reads `name` and `type`. Not one of prom-client's classes, hence the cast.
   */
  private collector(
    name: string,
    help: string,
    type: 'counter' | 'histogram',
    values: () => Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>,
  ): Metric {
    const collector = {
      name,
      help,
      type,
      aggregator: 'sum' as const,
      get: () => Promise.resolve({ name, help, type, aggregator: 'sum' as const, values: values() }),
      reset: () => this.reset(),
    };
    return collector as unknown as Metric;
  }

  private reset(): void {
    for (const series of this.series) {
      series.count = 0;
      series.sum = 0;
      series.buckets.fill(0);
    }
  }
}

const labelsOf = (series: Series) => ({ route: series.route, method: series.method, status: series.status });
