import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, uniqueName } from './helpers/api.js';
import { buildService, startService, type ServiceProcess } from './helpers/service-process.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { createTestDatabase } from './helpers/test-app.js';

const BUILD_DIR = '.test-build-outbox-crash';
/** Deliveries held mid-DATA when the process dies. */
const IN_FLIGHT = 10;
/** Deliveries turned away (451) before it dies: queued for a retry. */
const DEFERRED = 10;
/** Sends give up after 4 s of silence; the lease (13 s) outlasts three such timeouts, as it must. */
const SEND_TIMEOUT_MS = 4000;
const LEASE_SECONDS = 13;

/**
 * An SMTP server that takes the first IN_FLIGHT messages' data and never answers it (the sender
 * waits: the delivery is in flight), and turns the recipients after those away with a 451.
 */
class StallingSmtp {
  /** Recipients whose whole message arrived and is held unanswered. */
  readonly held = new Set<string>();
  readonly deferred = new Set<string>();
  private accepted = 0;
  private readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onRcptTo: (address, _session, callback) => {
      if (this.accepted < IN_FLIGHT) {
        this.accepted += 1;
        return callback();
      }
      this.deferred.add(address.address);
      callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
    },
    onData: (stream, session) => {
      stream.on('data', () => undefined);
      stream.on('error', () => undefined);
      // The message is all here; the answer never comes.
      stream.on('end', () => session.envelope.rcptTo.forEach((rcpt) => this.held.add(rcpt.address)));
    },
  });
  port = 0;

  async start(): Promise<void> {
    // The killed sender's connections end mid-transaction (ECONNRESET): expected here.
    this.server.on('error', () => undefined);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    const address = this.server.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface OutboxRow {
  address: string;
  status: string;
  attempts: number;
  lease_until: Date | null;
  sent_at: Date | null;
}

/**
 * kill -9 while messages are being delivered: what was queued is delivered at least once by the
 * next instance; only what was in flight (leased, `sending`) may arrive twice, once its lease ran out.
 */
describe('an instance killed during delivery', () => {
  const stalling = new StallingSmtp();
  const sink = new SmtpSink();
  const dataDir = mkdtempSync(join(tmpdir(), 'tfa-outbox-crash-'));
  let env: Record<string, string>;
  let db: pg.Client;
  let first: ServiceProcess | undefined;
  let second: ServiceProcess | undefined;

  beforeAll(async () => {
    await Promise.all([buildService(BUILD_DIR), stalling.start(), sink.start()]);
    const databaseUrl = await createTestDatabase();
    env = {
      DATABASE_URL: databaseUrl,
      APP_SECRET: randomBytes(32).toString('hex'),
      DATA_DIR: dataDir,
      RATE_LIMIT_PER_MINUTE: '1000',
      MAIL_SEND_TIMEOUT_MS: String(SEND_TIMEOUT_MS),
      MAIL_LEASE_SECONDS: String(LEASE_SECONDS),
      MAIL_WORKER_INTERVAL_MS: '200',
      RETENTION_INTERVAL_SECONDS: '0',
    };
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  }, 180_000);

  afterAll(async () => {
    await db?.end();
    await Promise.all([first?.kill(), second?.kill()]);
    await Promise.all([stalling.stop(), sink.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(BUILD_DIR, { recursive: true, force: true });
  });

  const outbox = async (addresses: string[]): Promise<OutboxRow[]> =>
    (
      await db.query<OutboxRow>(
        `SELECT "to"[1] AS address, status, attempts, lease_until, sent_at FROM mail_outbox WHERE "to" && $1::text[] ORDER BY id`,
        [addresses],
      )
    ).rows;

  it('delivers every queued message at least once after a restart; only those in flight twice', async () => {
    first = await startService(BUILD_DIR, { ...env, SMTP_URL: stalling.url });
    const api = new Api(first.base);
    const users = Array.from({ length: IN_FLIGHT + DEFERRED }, () => uniqueName('crash'));
    const addresses = users.map((username) => `${username}@example.com`);
    // Each registration queues its confirmation and starts delivering it after the answer.
    const answers = await Promise.all(
      users.map((username) =>
        api.post('/api/v1/users.register', {
          username,
          email: `${username}@example.com`,
          pass: 'a long password',
          name: 'Crash',
        }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(users.length).fill(200));

    // IN_FLIGHT messages held mid-delivery (leased, `sending`), DEFERRED back to `pending`.
    await until(() => stalling.held.size === IN_FLIGHT && stalling.deferred.size === DEFERRED, 10_000, 'the deliveries to start');
    await until(
      async () => (await outbox(addresses)).filter((row) => row.status === 'pending').length === DEFERRED,
      10_000,
      'the deferred messages to be queued again',
    );
    first.child.kill('SIGKILL');
    await expect(first.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });

    const atKill = await outbox(addresses);
    expect(atKill).toHaveLength(IN_FLIGHT + DEFERRED);
    const inFlight = atKill.filter((row) => row.status === 'sending');
    // What the dying process was sending is exactly what the server holds (none had timed out yet).
    expect(new Set(inFlight.map((row) => row.address))).toEqual(stalling.held);
    expect(
      atKill
        .filter((row) => row.status === 'pending')
        .map((row) => row.address)
        .sort(),
    ).toEqual([...stalling.deferred].sort());

    // A new instance on the same database, with a working mail server.
    second = await startService(BUILD_DIR, { ...env, SMTP_URL: sink.url });
    await until(
      async () => (await outbox(addresses)).every((row) => row.status === 'sent'),
      LEASE_SECONDS * 1000 + 30_000,
      'every message to be sent',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));

    // At least once: every address got its message from the new instance, and exactly once from it.
    const delivered = new Map<string, number>(addresses.map((address) => [address, 0]));
    for (const mail of sink.messages) for (const to of mail.to) if (delivered.has(to)) delivered.set(to, delivered.get(to)! + 1);
    expect([...delivered].filter(([, count]) => count !== 1)).toEqual([]);

    // Twice at most, and only for messages that were in flight: those the stalled server also holds.
    const twice = addresses.filter((address) => stalling.held.has(address) && delivered.get(address)! > 0);
    expect(twice.length).toBeLessThanOrEqual(inFlight.length);
    expect(twice.every((address) => inFlight.some((row) => row.address === address))).toBe(true);
    expect([...stalling.deferred].every((address) => !stalling.held.has(address))).toBe(true);

    const after = await outbox(addresses);
    // One attempt by the dead instance, one by the new one: nobody claimed a message twice.
    expect(after.map((row) => row.attempts)).toEqual(Array(addresses.length).fill(2));
    // In-flight messages were taken over only once their lease had run out.
    for (const row of inFlight) {
      const sent = after.find((candidate) => candidate.address === row.address)!;
      expect(sent.sent_at!.getTime()).toBeGreaterThanOrEqual(row.lease_until!.getTime());
    }
  });
});
