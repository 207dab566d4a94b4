import { Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { HttpMetrics } from './http-metrics.js';

/** Where the metrics are served (on the public port, or alone on METRICS_PORT). */
export const METRICS_PATH = '/metrics';

// Every label value comes from one of these closed lists (typed at the call sites), so the number
// of series is fixed: all of them exist, at 0, from the start.
export const CODE_CHANNELS = ['email'] as const;
export type CodeChannel = (typeof CODE_CHANNELS)[number];
export const VERIFICATION_METHODS = ['email', 'totp', 'backup', 'password'] as const;
export type VerificationMethod = (typeof VERIFICATION_METHODS)[number];
/**
 * How a second-factor attempt ended: right, wrong, right but late, refused unchecked because the
 * account is locked, or refused unchecked because EMAIL_CODE_MAX_ATTEMPTS attempts were used up.
 */
export const VERIFICATION_OUTCOMES = ['success', 'invalid', 'expired', 'locked', 'exhausted'] as const;
export type VerificationOutcome = (typeof VERIFICATION_OUTCOMES)[number];
export const CHALLENGE_PURPOSES = ['login', 'step_up'] as const;
export type ChallengePurposeLabel = (typeof CHALLENGE_PURPOSES)[number];
/** A failed delivery attempt: the message is tried again later, or dropped for good. */
export const DELIVERY_FAILURE_OUTCOMES = ['retrying', 'given_up'] as const;
export type DeliveryFailureOutcome = (typeof DELIVERY_FAILURE_OUTCOMES)[number];

export interface OutboxBacklog {
  /** Messages not yet delivered nor given up (pending, or being sent). */
  pending: number;
  /** Age of the oldest of them; 0 when there is none. */
  oldestAgeSeconds: number;
}

export interface PoolUsage {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/**
 * Something read at scrape time (a database query). `collect` is given COLLECT_TIMEOUT_MS; when it
 * fails or runs out of time, `unavailable` marks its numbers unknown and the scrape goes on.
 */
export interface ScrapeCollector {
  readonly name: string;
  collect(): Promise<void> | void;
  unavailable(): void;
}

/** Per collector and scrape; Prometheus' own scrape timeout is 10 s by default. */
export const COLLECT_TIMEOUT_MS = 1000;

/**
 * prom-client's default process and Node.js metrics (`process_*`, `nodejs_*`, unprefixed so stock
 * dashboards find them), in a registry of their own: one per process, however many app instances
 * it runs (the end-to-end tests start several), as each collectDefaultMetrics call starts an event
 * loop monitor and a GC observer that are never stopped. Never prom-client's global registry.
 */
let processRegistry: Registry | undefined;
const processMetrics = (): Registry => {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
};

/**
 * The service's Prometheus metrics: one registry per app instance, typed methods for the domain
 * events worth counting, and the text the scrape answers. Provided globally (MetricsModule), so any
 * layer can count without importing a module above it.
 */
@Injectable()
export class Metrics {
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  readonly registry = new Registry();
  /** Recorded by the onResponse hook (installMetrics); the metrics route itself is left out. */
  readonly http = new HttpMetrics(new Set([METRICS_PATH]));

  private readonly logger = new Logger('Metrics');
  private readonly collectors: ScrapeCollector[] = [];
  /** A collection still running (a query the database has not answered): the next scrape waits for it instead of piling up another. */
  private readonly running = new Map<ScrapeCollector, Promise<void>>();

  private readonly codesSent = this.counter(
    'tfa_codes_sent_total',
    'Second-factor codes issued and queued for sending, by channel',
    {
      channel: CODE_CHANNELS,
    },
  );
  private readonly verifications = this.counter(
    'tfa_second_factor_verifications_total',
    'Second-factor attempts, by method and outcome (locked, exhausted: refused without checking the code)',
    { method: VERIFICATION_METHODS, outcome: VERIFICATION_OUTCOMES },
  );
  private readonly lockouts = this.counter(
    'tfa_lockouts_total',
    "Failures that locked a user's second factor (LOCKOUT_THRESHOLD)",
    {},
  );
  private readonly challengesOpened = this.counter('tfa_challenges_opened_total', 'Second-factor challenges opened, by purpose', {
    purpose: CHALLENGE_PURPOSES,
  });
  private readonly challengesCompleted = this.counter(
    'tfa_challenges_completed_total',
    'Second-factor challenges finished with a right code, by purpose',
    { purpose: CHALLENGE_PURPOSES },
  );
  private readonly deliveries = this.counter('tfa_mail_deliveries_total', 'Outbox messages handed to the mail server', {});
  private readonly deliveryFailures = this.counter(
    'tfa_mail_delivery_failures_total',
    'Failed delivery attempts of outbox messages: retried later, or given up (attempts used up, or a code expired first)',
    { outcome: DELIVERY_FAILURE_OUTCOMES },
  );
  private readonly outboxPending = this.gauge(
    'tfa_outbox_pending_messages',
    'Outbox messages not yet delivered nor given up, at scrape time (NaN: the database did not answer)',
  );
  private readonly outboxOldestAge = this.gauge(
    'tfa_outbox_oldest_pending_age_seconds',
    'Age of the oldest message not yet delivered nor given up, at scrape time; 0 when none (NaN: unknown)',
  );
  private readonly poolTotal = this.gauge('tfa_db_pool_connections', 'Connections open in the database pool');
  private readonly poolIdle = this.gauge('tfa_db_pool_idle_connections', 'Open database connections not in use');
  private readonly poolWaiting = this.gauge('tfa_db_pool_waiting_clients', 'Queries waiting for a database connection');
  private readonly poolMax = this.gauge('tfa_db_pool_max_connections', 'The most connections the database pool opens');

  constructor() {
    for (const metric of this.http.collectors()) this.registry.registerMetric(metric);
  }

  codeSent(channel: CodeChannel): void {
    this.codesSent.inc({ channel });
  }

  secondFactorVerified(method: VerificationMethod, outcome: VerificationOutcome): void {
    this.verifications.inc({ method, outcome });
  }

  lockedOut(): void {
    this.lockouts.inc();
  }

  challengeOpened(purpose: ChallengePurposeLabel): void {
    this.challengesOpened.inc({ purpose });
  }

  challengeCompleted(purpose: ChallengePurposeLabel): void {
    this.challengesCompleted.inc({ purpose });
  }

  mailDelivered(): void {
    this.deliveries.inc();
  }

  mailDeliveryFailed(outcome: DeliveryFailureOutcome): void {
    this.deliveryFailures.inc({ outcome });
  }

  /** null: unknown (the query failed). */
  outboxBacklog(backlog: OutboxBacklog | null): void {
    this.outboxPending.set(backlog?.pending ?? Number.NaN);
    this.outboxOldestAge.set(backlog?.oldestAgeSeconds ?? Number.NaN);
  }

  /** null: unknown (no pool, or it is closed). */
  databasePool(pool: PoolUsage | null): void {
    this.poolTotal.set(pool?.total ?? Number.NaN);
    this.poolIdle.set(pool?.idle ?? Number.NaN);
    this.poolWaiting.set(pool?.waiting ?? Number.NaN);
    this.poolMax.set(pool?.max ?? Number.NaN);
  }

  /** Run at every scrape, before the text is made. */
  onScrape(collector: ScrapeCollector): void {
    this.collectors.push(collector);
  }

  /** The text format answer: the scrape-time numbers read, then every metric. Does not throw for a collector. */
  async scrape(): Promise<string> {
    await Promise.all(this.collectors.map((collector) => this.collect(collector)));
    const [process, app] = await Promise.all([processMetrics().metrics(), this.registry.metrics()]);
    return `${process}\n${app}`;
  }

  private async collect(collector: ScrapeCollector): Promise<void> {
    let run = this.running.get(collector);
    if (!run) {
      run = Promise.resolve()
        .then(() => collector.collect())
        .finally(() => this.running.delete(collector));
      this.running.set(collector, run);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        run,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${COLLECT_TIMEOUT_MS} ms`)), COLLECT_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      collector.unavailable();
      this.logger.warn(`Metrics: ${collector.name} unavailable: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A counter whose every label combination (from the closed lists) exists from the start, at 0. */
  private counter<L extends string>(name: string, help: string, labels: Record<L, readonly string[]>): Counter<L> {
    const labelNames = Object.keys(labels) as L[];
    const counter = new Counter<L>({ name, help, labelNames, registers: [this.registry] });
    for (const combination of combinations(labels)) counter.inc(combination, 0);
    return counter;
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }
}

/** Every assignment of one value per label: {a: [1, 2], b: [x]} → [{a: 1, b: x}, {a: 2, b: x}]. */
export function combinations<L extends string>(labels: Record<L, readonly string[]>): Array<Record<L, string>> {
  return (Object.entries(labels) as Array<[L, readonly string[]]>).reduce<Array<Record<L, string>>>(
    (partial, [name, values]) => partial.flatMap((combination) => values.map((value) => ({ ...combination, [name]: value }))),
    [{} as Record<L, string>],
  );
}
