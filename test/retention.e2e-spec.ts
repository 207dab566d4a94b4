import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { addSeconds } from '../src/common/clock.js';
import { RetentionRepository, type RetentionTable } from '../src/retention/retention.repository.js';
import { RETENTION_BATCH_SIZE, RetentionService, type RetentionOutcome } from '../src/retention/retention.service.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const DAY = 86_400;
const MINUTE = 60;
/** The advisory lock key of src/retention/retention.repository.ts. */
const RETENTION_LOCK_KEY = 727_001_3;

/** Rows written straight into the tables, each tagged so a test can tell which survived. */
class Rows {
  constructor(private readonly t: TestApp) {}

  async user(): Promise<string> {
    const id = randomBytes(8).toString('hex');
    await this.t.db.query(`INSERT INTO users (id, username) VALUES ($1, $2)`, [id, `retention-${id}`]);
    return id;
  }

  async emailCode(userId: string, tag: string, row: { expiresAt: Date; consumedAt?: Date }): Promise<void> {
    await this.t.db.query(
      `INSERT INTO email_codes (user_id, purpose, challenge_id, code_hmac, expires_at, consumed_at, created_at)
       VALUES ($1, 'login', $2, $3, $4, $5, $6)`,
      [userId, tag, 'f'.repeat(64), row.expiresAt, row.consumedAt ?? null, addSeconds(row.expiresAt, -600)],
    );
  }

  async challenge(userId: string, tag: string, row: { expiresAt: Date; completedAt?: Date }): Promise<void> {
    await this.t.db.query(
      `INSERT INTO challenges (id, user_id, purpose, method, expires_at, completed_at, created_at)
       VALUES ($1, $2, 'login', 'email', $3, $4, $5)`,
      [tag, userId, row.expiresAt, row.completedAt ?? null, addSeconds(row.expiresAt, -600)],
    );
  }

  async outbox(tag: string, row: { status: string; createdAt: Date; sentAt?: Date }): Promise<void> {
    await this.t.db.query(
      `INSERT INTO mail_outbox ("to", template, locale, status, next_attempt_at, created_at, sent_at)
       VALUES ($1, 'email-code', 'en', $2, $3, $3, $4)`,
      [[`${tag}@example.com`], row.status, row.createdAt, row.sentAt ?? null],
    );
  }

  async audit(userId: string, tag: string, at: Date): Promise<void> {
    await this.t.db.query(
      `INSERT INTO audit_events (user_id, type, outcome, user_agent, at) VALUES ($1, 'login', 'success', $2, $3)`,
      [userId, tag, at],
    );
  }

  /** The tags still in the database, per table. */
  async left(userId: string): Promise<Record<RetentionTable, string[]>> {
    const tags = async (sql: string) =>
      ((await this.t.db.query(sql, [userId])) as Array<{ tag: string }>).map((row) => row.tag).sort();
    return {
      email_codes: await tags(`SELECT challenge_id AS tag FROM email_codes WHERE user_id = $1`),
      challenges: await tags(`SELECT id AS tag FROM challenges WHERE user_id = $1`),
      mail_outbox: await tags(`SELECT split_part("to"[1], '@', 1) AS tag FROM mail_outbox WHERE "to"[1] LIKE $1 || '%'`),
      audit_events: await tags(`SELECT user_agent AS tag FROM audit_events WHERE user_id = $1`),
    };
  }
}

const deleted = (outcome: RetentionOutcome) => {
  if (!outcome.ran) throw new Error(`the run was skipped (${outcome.reason})`);
  return outcome.deleted;
};

describe('retention', () => {
  let t: TestApp;
  let rows: Rows;
  let retention: RetentionService;
  let repository: RetentionRepository;
  beforeAll(async () => {
    // Limits of their own, to show the job reads them (defaults: 7 and 365 days).
    t = await createTestApp({ OUTBOX_RETENTION_DAYS: '3', AUDIT_RETENTION_DAYS: '30' });
    rows = new Rows(t);
    retention = t.app.get(RetentionService);
    repository = t.app.get(RetentionRepository);
  });
  afterAll(async () => t?.close());
  afterEach(() => vi.restoreAllMocks());

  it('deletes each kind of row once it is past its limit, never live codes, open challenges or queued mail', async () => {
    const userId = await rows.user();
    const t0 = t.clock.now();
    const at = (seconds: number) => addSeconds(t0, seconds);
    // Tagged by the moment they die (become deletable one limit later).
    await rows.emailCode(userId, 'expired-t0', { expiresAt: t0 });
    await rows.emailCode(userId, 'used-t0', { expiresAt: at(10 * MINUTE), consumedAt: t0 });
    await rows.emailCode(userId, 'expires-t0+10m', { expiresAt: at(10 * MINUTE) });
    // Retired after it had expired (every outstanding code dies at too many wrong ones): dead since t0.
    await rows.emailCode(userId, 'expired-t0-retired-later', { expiresAt: t0, consumedAt: at(2 * DAY) });
    await rows.challenge(userId, 'challenge-expired-t0', { expiresAt: t0 });
    await rows.challenge(userId, 'challenge-completed-t0', { expiresAt: at(10 * MINUTE), completedAt: t0 });
    await rows.challenge(userId, 'challenge-expires-t0+10m', { expiresAt: at(10 * MINUTE) });
    const mailTag = (name: string) => `${userId}-${name}`;
    await rows.outbox(mailTag('sent'), { status: 'sent', createdAt: at(-MINUTE), sentAt: t0 });
    await rows.outbox(mailTag('failed'), { status: 'failed', createdAt: t0 });
    await rows.outbox(mailTag('pending'), { status: 'pending', createdAt: t0 });
    await rows.outbox(mailTag('sending'), { status: 'sending', createdAt: t0 });
    await rows.audit(userId, 'audit-t0', t0);
    await rows.audit(userId, 'audit-t0+1d', at(DAY));
    const all = await rows.left(userId);
    expect(Object.values(all).flat()).toHaveLength(13);
    const logged = vi.spyOn(Logger.prototype, 'log');

    // Nothing is a day past its end yet.
    expect(deleted(await retention.run())).toEqual({ email_codes: 0, challenges: 0, mail_outbox: 0, audit_events: 0 });
    t.clock.advance(DAY - MINUTE);
    expect(deleted(await retention.run())).toEqual({ email_codes: 0, challenges: 0, mail_outbox: 0, audit_events: 0 });

    // t0 + 1 day + 1 minute: codes and challenges that ended at t0 are a day old.
    t.clock.advance(2 * MINUTE);
    expect(deleted(await retention.run())).toEqual({ email_codes: 3, challenges: 2, mail_outbox: 0, audit_events: 0 });
    expect(await rows.left(userId)).toEqual({
      ...all,
      email_codes: ['expires-t0+10m'],
      challenges: ['challenge-expires-t0+10m'],
    });

    // t0 + 3 days + 1 minute: the rest of the codes and challenges, and settled mail (OUTBOX_RETENTION_DAYS=3).
    t.clock.advance(2 * DAY);
    expect(deleted(await retention.run())).toEqual({ email_codes: 1, challenges: 1, mail_outbox: 2, audit_events: 0 });
    expect(await rows.left(userId)).toEqual({
      email_codes: [],
      challenges: [],
      mail_outbox: [mailTag('pending'), mailTag('sending')].sort(),
      audit_events: ['audit-t0', 'audit-t0+1d'],
    });

    // t0 + 30 days + 1 minute (AUDIT_RETENTION_DAYS=30): the first audit event; queued mail stays at any age.
    t.clock.advance(27 * DAY);
    expect(deleted(await retention.run())).toEqual({ email_codes: 0, challenges: 0, mail_outbox: 0, audit_events: 1 });
    t.clock.advance(DAY);
    expect(deleted(await retention.run())).toEqual({ email_codes: 0, challenges: 0, mail_outbox: 0, audit_events: 1 });
    expect(await rows.left(userId)).toEqual({
      email_codes: [],
      challenges: [],
      mail_outbox: [mailTag('pending'), mailTag('sending')].sort(),
      audit_events: [],
    });

    // One line per run, with the count of every table (and nothing else of the rows).
    const lines = logged.mock.calls.map(([message]) => String(message)).filter((message) => message.startsWith('Retention'));
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      expect(line).toMatch(
        /^Retention deleted email_codes=\d+ challenges=\d+ mail_outbox=\d+ audit_events=\d+ \(\d+ batches, \d+ ms\)$/,
      );
    }
    expect(lines[2]).toContain('email_codes=3 challenges=2 mail_outbox=0 audit_events=0');
  });

  it('deletes in batches of RETENTION_BATCH_SIZE rows until a batch comes back short', async () => {
    const userId = await rows.user();
    const old = addSeconds(t.clock.now(), -40 * DAY);
    const recent = t.clock.now();
    // 2.5 batches of audit events, exactly 2 of expired codes, and some of each that must stay.
    await t.db.query(
      `INSERT INTO audit_events (user_id, type, outcome, user_agent, at)
       SELECT $1, 'login', 'success', 'old', $2 FROM generate_series(1, $3)`,
      [userId, old, 2.5 * RETENTION_BATCH_SIZE],
    );
    await t.db.query(
      `INSERT INTO email_codes (user_id, purpose, challenge_id, code_hmac, expires_at, created_at)
       SELECT $1, 'login', 'old', $2, $3, $3 FROM generate_series(1, $4)`,
      [userId, 'f'.repeat(64), old, 2 * RETENTION_BATCH_SIZE],
    );
    for (let i = 0; i < 3; i += 1) {
      await rows.audit(userId, 'recent', recent);
      await rows.emailCode(userId, 'recent', { expiresAt: addSeconds(recent, 600) });
    }
    const batches = vi.spyOn(repository, 'deleteBatch');

    const outcome = await retention.run();

    expect(deleted(outcome)).toMatchObject({ email_codes: 2 * RETENTION_BATCH_SIZE, audit_events: 2.5 * RETENTION_BATCH_SIZE });
    const counts = (table: RetentionTable) =>
      batches.mock.calls.flatMap(([, called], index) => (called === table ? [batches.mock.results[index]!.value] : []));
    expect(await Promise.all(counts('audit_events'))).toEqual([1000, 1000, 500]);
    expect(await Promise.all(counts('email_codes'))).toEqual([1000, 1000, 0]);
    expect(batches.mock.calls.every(([, , , limit]) => limit === RETENTION_BATCH_SIZE)).toBe(true);
    expect(outcome).toMatchObject({ batches: batches.mock.calls.length });
    expect(await rows.left(userId)).toMatchObject({
      email_codes: ['recent', 'recent', 'recent'],
      audit_events: ['recent', 'recent', 'recent'],
    });
  });

  it('uses an index for every delete, not a scan of the whole table', async () => {
    // With the planner kept off full scans, a plan still holding a Seq Scan has no index to use.
    const plans: string[] = [];
    await t.db.transaction(async (db) => {
      await db.query('SET LOCAL enable_seqscan = off');
      const now = t.clock.now();
      for (const sql of [
        `SELECT id FROM email_codes WHERE LEAST(consumed_at, expires_at) < $1 LIMIT 1000`,
        `SELECT id FROM challenges WHERE LEAST(completed_at, expires_at) < $1 LIMIT 1000`,
        `SELECT id FROM mail_outbox WHERE status IN ('sent', 'failed') AND COALESCE(sent_at, created_at) < $1 LIMIT 1000`,
        `SELECT id FROM audit_events WHERE at < $1 LIMIT 1000`,
      ]) {
        const plan = (await db.query(`EXPLAIN ${sql}`, [now])) as Array<{ 'QUERY PLAN': string }>;
        plans.push(plan.map((line) => line['QUERY PLAN']).join('\n'));
      }
    });
    for (const [index, name] of [
      'email_codes_dead_since_idx',
      'challenges_dead_since_idx',
      'mail_outbox_settled_idx',
      'audit_events_at_idx',
    ].entries()) {
      expect(plans[index]).toContain(name);
      expect(plans[index]).not.toContain('Seq Scan');
    }
  });

  describe('two instances on one database', () => {
    let other: TestApp;
    beforeAll(async () => {
      other = await createTestApp({
        DATABASE_URL: t.config.DATABASE_URL!,
        OUTBOX_RETENTION_DAYS: '3',
        AUDIT_RETENTION_DAYS: '30',
      });
    });
    afterAll(async () => other?.close());

    /** Each instance has its own test clock: rows older than both limits go whichever instance runs. */
    const oldest = () => new Date(Math.min(t.clock.now().getTime(), other.clock.now().getTime()));

    const lockHolders = async () =>
      Number(
        (
          (await t.db.query(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted`, [
            RETENTION_LOCK_KEY,
          ])) as Array<{ n: string }>
        )[0]!.n,
      );

    it('only one deletes at a time: the other skips its run while the lock is held', async () => {
      const userId = await rows.user();
      const old = addSeconds(oldest(), -40 * DAY);
      for (let i = 0; i < 5; i += 1) await rows.audit(userId, 'old', old);
      // The first instance stops before its first statement, holding the lock, until released.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let arrived!: () => void;
      const holding = new Promise<void>((resolve) => (arrived = resolve));
      const original = repository.deleteBatch.bind(repository);
      vi.spyOn(repository, 'deleteBatch').mockImplementation(async (...args) => {
        arrived();
        await gate;
        return original(...args);
      });
      const deleting = vi.spyOn(other.app.get(RetentionRepository), 'deleteBatch');

      const first = retention.run();
      await holding;
      expect(await lockHolders()).toBe(1);
      const second = await other.app.get(RetentionService).run();
      expect(second).toEqual({ ran: false, reason: 'locked' });
      expect(deleting).not.toHaveBeenCalled();
      release();
      expect(deleted(await first)).toMatchObject({ audit_events: 5 });

      // Released: the other instance's next run goes ahead (nothing left to delete).
      expect(await lockHolders()).toBe(0);
      expect(deleted(await other.app.get(RetentionService).run())).toEqual({
        email_codes: 0,
        challenges: 0,
        mail_outbox: 0,
        audit_events: 0,
      });
    });

    it('started together, one runs and the other skips or finds nothing left: every row is deleted once', async () => {
      const userId = await rows.user();
      const old = addSeconds(oldest(), -40 * DAY);
      for (let i = 0; i < 5; i += 1) await rows.audit(userId, 'old', old);
      const outcomes = await Promise.all([retention.run(), other.app.get(RetentionService).run()]);
      const ran = outcomes.filter((outcome) => outcome.ran);
      expect(ran.length).toBeGreaterThanOrEqual(1);
      expect(ran.reduce((sum, outcome) => sum + deleted(outcome).audit_events, 0)).toBe(5);
      expect(await lockHolders()).toBe(0);
    });

    it('a failed run lets go of the lock', async () => {
      vi.spyOn(repository, 'deleteBatch').mockRejectedValueOnce(new Error('statement failed'));
      await expect(retention.run()).rejects.toThrow('statement failed');
      expect(await lockHolders()).toBe(0);
      expect((await other.app.get(RetentionService).run()).ran).toBe(true);
      vi.restoreAllMocks();
      expect((await retention.run()).ran).toBe(true);
    });
  });

  it('is scheduled every RETENTION_INTERVAL_SECONDS, with a first run soon after start, and off at 0', async () => {
    // The test apps run with RETENTION_INTERVAL_SECONDS=0 (see createTestApp).
    expect(t.app.get(SchedulerRegistry).getIntervals()).toEqual([]);
    const scheduled = await createTestApp({ DATABASE_URL: t.config.DATABASE_URL!, RETENTION_INTERVAL_SECONDS: '3600' });
    try {
      const registry = scheduled.app.get(SchedulerRegistry);
      expect(registry.getIntervals()).toEqual(['retention']);
      expect(registry.getTimeouts()).toEqual(['retention-first-run']);
    } finally {
      await scheduled.close();
    }
  });
});
