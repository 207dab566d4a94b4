import { describe, expect, it, vi } from 'vitest';
import { MetricsText } from '../../test/helpers/metrics.js';
import {
  CHALLENGE_PURPOSES,
  COLLECT_TIMEOUT_MS,
  combinations,
  Metrics,
  VERIFICATION_METHODS,
  VERIFICATION_OUTCOMES,
} from './metrics.js';

const scrape = async (metrics: Metrics) => new MetricsText(await metrics.scrape());

describe('Metrics', () => {
  it('starts every labelled series at 0, one per combination of the closed label lists', async () => {
    const text = await scrape(new Metrics());
    const verifications = text.find('tfa_second_factor_verifications_total');
    expect(verifications).toHaveLength(VERIFICATION_METHODS.length * VERIFICATION_OUTCOMES.length);
    expect(verifications.every((sample) => sample.value === 0)).toBe(true);
    expect(text.find('tfa_challenges_opened_total').map((sample) => sample.labels.purpose)).toEqual([...CHALLENGE_PURPOSES]);
    expect(text.exact('tfa_codes_sent_total', { channel: 'email' })).toBe(0);
    expect(text.exact('tfa_lockouts_total')).toBe(0);
    expect(text.exact('tfa_mail_deliveries_total')).toBe(0);
    expect(text.find('tfa_mail_delivery_failures_total').map((sample) => sample.labels.outcome)).toEqual([
      'retrying',
      'given_up',
    ]);
  });

  it('counts through its typed methods', async () => {
    const metrics = new Metrics();
    metrics.codeSent('email');
    metrics.codeSent('email');
    metrics.secondFactorVerified('totp', 'success');
    metrics.secondFactorVerified('email', 'expired');
    metrics.secondFactorVerified('email', 'expired');
    metrics.lockedOut();
    metrics.challengeOpened('step_up');
    metrics.challengeCompleted('login');
    metrics.mailDelivered();
    metrics.mailDeliveryFailed('given_up');
    const text = await scrape(metrics);
    expect(text.exact('tfa_codes_sent_total', { channel: 'email' })).toBe(2);
    expect(text.exact('tfa_second_factor_verifications_total', { method: 'totp', outcome: 'success' })).toBe(1);
    expect(text.exact('tfa_second_factor_verifications_total', { method: 'email', outcome: 'expired' })).toBe(2);
    expect(text.value('tfa_second_factor_verifications_total')).toBe(3);
    expect(text.exact('tfa_lockouts_total')).toBe(1);
    expect(text.exact('tfa_challenges_opened_total', { purpose: 'step_up' })).toBe(1);
    expect(text.exact('tfa_challenges_opened_total', { purpose: 'login' })).toBe(0);
    expect(text.exact('tfa_challenges_completed_total', { purpose: 'login' })).toBe(1);
    expect(text.exact('tfa_mail_deliveries_total')).toBe(1);
    expect(text.exact('tfa_mail_delivery_failures_total', { outcome: 'given_up' })).toBe(1);
    expect(text.exact('tfa_mail_delivery_failures_total', { outcome: 'retrying' })).toBe(0);
  });

  it('keeps a registry per instance: two apps in one process count apart', async () => {
    const one = new Metrics();
    const other = new Metrics();
    one.lockedOut();
    one.http.record('/health', 'GET', 200, 0.001);
    expect((await scrape(one)).exact('tfa_lockouts_total')).toBe(1);
    const otherText = await scrape(other);
    expect(otherText.exact('tfa_lockouts_total')).toBe(0);
    expect(otherText.find('http_requests_total')).toEqual([]);
  });

  it("includes the process's default metrics, unprefixed, and the HTTP metrics", async () => {
    const metrics = new Metrics();
    metrics.http.record('/health', 'GET', 200, 0.001);
    const text = await scrape(metrics);
    expect(text.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(text.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(text.exact('http_requests_total', { route: '/health', method: 'GET', status: '200' })).toBe(1);
    expect(text.types.get('http_request_duration_seconds')).toBe('histogram');
    // Each family once, though two instances share the process registry.
    new Metrics();
    const again = (await new Metrics().scrape()).match(/^# TYPE process_cpu_user_seconds_total /gm);
    expect(again).toHaveLength(1);
  });

  it('sets the outbox and pool gauges, NaN when unknown', async () => {
    const metrics = new Metrics();
    metrics.outboxBacklog({ pending: 3, oldestAgeSeconds: 42.5 });
    metrics.databasePool({ total: 4, idle: 1, waiting: 2, max: 20 });
    let text = await scrape(metrics);
    expect(text.exact('tfa_outbox_pending_messages')).toBe(3);
    expect(text.exact('tfa_outbox_oldest_pending_age_seconds')).toBe(42.5);
    expect(text.exact('tfa_db_pool_connections')).toBe(4);
    expect(text.exact('tfa_db_pool_idle_connections')).toBe(1);
    expect(text.exact('tfa_db_pool_waiting_clients')).toBe(2);
    expect(text.exact('tfa_db_pool_max_connections')).toBe(20);
    metrics.outboxBacklog(null);
    metrics.databasePool(null);
    text = await scrape(metrics);
    expect(text.exact('tfa_outbox_pending_messages')).toBeNaN();
    expect(text.exact('tfa_db_pool_waiting_clients')).toBeNaN();
  });

  describe('scrape-time collectors', () => {
    it('run before every scrape', async () => {
      const metrics = new Metrics();
      let pending = 0;
      metrics.onScrape({
        name: 'test',
        collect: async () => metrics.outboxBacklog({ pending: ++pending, oldestAgeSeconds: 0 }),
        unavailable: () => metrics.outboxBacklog(null),
      });
      expect((await scrape(metrics)).exact('tfa_outbox_pending_messages')).toBe(1);
      expect((await scrape(metrics)).exact('tfa_outbox_pending_messages')).toBe(2);
    });

    it('one that fails marks its numbers unknown; the scrape still answers', async () => {
      const metrics = new Metrics();
      metrics.outboxBacklog({ pending: 5, oldestAgeSeconds: 1 });
      metrics.onScrape({
        name: 'failing',
        collect: () => Promise.reject(new Error('connection refused')),
        unavailable: () => metrics.outboxBacklog(null),
      });
      const text = await scrape(metrics);
      expect(text.exact('tfa_outbox_pending_messages')).toBeNaN();
      expect(text.exact('tfa_lockouts_total')).toBe(0);
    });

    it('one that hangs is given COLLECT_TIMEOUT_MS, and the next scrape waits for it instead of starting another', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }); // not setImmediate: the event-loop lag metric waits for one
      try {
        const metrics = new Metrics();
        let calls = 0;
        let finish: () => void = () => undefined;
        metrics.onScrape({
          name: 'hanging',
          collect: () => {
            calls += 1;
            return new Promise<void>((resolve) => {
              finish = () => {
                metrics.outboxBacklog({ pending: 7, oldestAgeSeconds: 0 });
                resolve();
              };
            });
          },
          unavailable: () => metrics.outboxBacklog(null),
        });
        const first = metrics.scrape();
        await vi.advanceTimersByTimeAsync(COLLECT_TIMEOUT_MS);
        expect(new MetricsText(await first).exact('tfa_outbox_pending_messages')).toBeNaN();
        const second = metrics.scrape();
        await vi.advanceTimersByTimeAsync(0);
        finish();
        expect(new MetricsText(await second).exact('tfa_outbox_pending_messages')).toBe(7);
        expect(calls).toBe(1);
        // Once it has finished, the next scrape collects afresh.
        const third = metrics.scrape();
        await vi.advanceTimersByTimeAsync(COLLECT_TIMEOUT_MS);
        await third;
        expect(calls).toBe(2);
      } finally {
        vi.useRealTimers();
      }
    });
  });
});

describe('combinations', () => {
  it('assigns one value per label in every way', () => {
    expect(combinations({ a: ['1', '2'], b: ['x', 'y'] })).toEqual([
      { a: '1', b: 'x' },
      { a: '1', b: 'y' },
      { a: '2', b: 'x' },
      { a: '2', b: 'y' },
    ]);
    expect(combinations({})).toEqual([{}]);
  });
});
