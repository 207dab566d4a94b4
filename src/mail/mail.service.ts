import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { MailerService } from '@nestjs-modules/mailer';
import {
  DataSource,
  EntityManager,
  type EntitySubscriberInterface,
  type QueryRunner,
  type TransactionCommitEvent,
  type TransactionRollbackEvent,
} from 'typeorm';
import { decrypt, encrypt } from '../common/aes-gcm.js';
import { addSeconds, Clock } from '../common/clock.js';
import { SecretKeys } from '../common/secret-keys.js';
import { AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.js';
import { type ClaimedMessage, OutboxRepository } from './outbox.repository.js';
import { MailTemplateName, MailTemplates } from './mail-templates.service.js';

export interface OutgoingMail {
  to: string[];
  template: MailTemplateName;
  locale: string | null | undefined;
  data: Record<string, unknown>;
}

const MAX_BACKOFF_SECONDS = 3600;

/** A message queued by `enqueue`, claimed for its first attempt: what `deliverNow` takes. */
export type QueuedMail = ClaimedMessage;

/**
 * Every message goes through the `mail_outbox` table: queued in the transaction that caused it,
 * then delivered by `deliverNow` (at once, for requests that must know) or by the worker (retries).
 */
@Injectable()
export class MailService {
  private readonly logger = new Logger('Mail');

  constructor(
    dataSource: DataSource,
    private readonly outbox: OutboxRepository,
    private readonly mailer: MailerService,
    private readonly templates: MailTemplates,
    private readonly keys: SecretKeys,
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
  ) {
    const subscriber: EntitySubscriberInterface = {
      afterTransactionCommit: (event: TransactionCommitEvent) => {
        const queued = this.afterCommit.get(event.queryRunner);
        this.afterCommit.delete(event.queryRunner);
        if (queued?.length) void this.deliverNow(queued);
      },
      afterTransactionRollback: (event: TransactionRollbackEvent) => {
        this.afterCommit.delete(event.queryRunner);
      },
    };
    dataSource.subscribers.push(subscriber);
  }

  /** Messages queued by `send` inside a transaction, delivered once it commits. */
  private readonly afterCommit = new WeakMap<QueryRunner, QueuedMail[]>();

  /**
   * Queues a message in the caller's transaction and delivers it once that commits, without the
   * caller waiting: for mail that must never be lost nor hold the change up (security alerts).
   * If that first attempt fails, the worker retries.
   */
  async send(manager: EntityManager, mail: OutgoingMail): Promise<void> {
    const queued = await this.enqueue(manager, mail);
    const runner = manager.queryRunner;
    if (!runner?.isTransactionActive) {
      void this.deliverNow([queued]);
      return;
    }
    const pending = this.afterCommit.get(runner);
    if (pending) pending.push(queued);
    else this.afterCommit.set(runner, [queued]);
  }

  /**
   * Queues a message inside the caller's transaction, for `deliverNow` once that commits (every
   * caller does so). It is queued already claimed by this instance: the worker only steps in if
   * that attempt never happens (a crash), once the claim's lease has lapsed, instead of racing it
   * for the row and making the request report a failure.
   */
  async enqueue(manager: EntityManager, mail: OutgoingMail): Promise<QueuedMail> {
    const now = this.clock.now();
    return this.outbox.insertClaimed(manager, {
      to: mail.to,
      template: mail.template,
      locale: this.templates.resolveLocale(mail.locale),
      dataEncrypted: encrypt(this.keys.key('outbox-encryption'), JSON.stringify(mail.data)),
      createdAt: now,
      leaseUntil: addSeconds(now, this.config.mailLeaseSeconds),
    });
  }

  /**
   * One delivery attempt of the given messages, bounded by MAIL_SEND_TIMEOUT_MS. Returns true when
   * all went out. A message that fails (or times out) stays queued for the worker.
   */
  async deliverNow(queued: QueuedMail[]): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.config.MAIL_SEND_TIMEOUT_MS);
    });
    try {
      return await Promise.race([
        // Never rejects: callers fire and forget it (`void deliverNow`), and a rejection there (the
        // database gone mid-attempt) would be unhandled and end the process. The worker retries.
        Promise.all(
          queued.map((message) =>
            this.attempt(message).catch((error: unknown) => {
              this.logger.warn(
                `Delivery attempt of message ${message.id} failed: ${error instanceof Error ? error.message : String(error)}`,
              );
              return false;
            }),
          ),
        ).then((results) => results.every(Boolean)),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Claims and delivers due messages; returns how many were attempted. Used by the worker. */
  async deliverDue(limit = 20): Promise<number> {
    const claimed = await this.claim({ limit });
    await Promise.all(claimed.map((row) => this.deliverRow(row)));
    return claimed.length;
  }

  private async attempt(queued: QueuedMail): Promise<boolean> {
    // The claim made when it was queued, while its lease still covers a whole send (one that got
    // here late, past its lease, may have been taken over: it is claimed again, or left).
    const sendEnds = this.clock.now().getTime() + this.config.longestSendMs;
    if (queued.leaseUntil.getTime() > sendEnds) return this.deliverRow(queued);
    const [row] = await this.claim({ id: queued.id });
    // Already claimed by someone else (the worker) or already sent: not a failure of this request.
    if (!row) return this.outbox.isSent(queued.id);
    return this.deliverRow(row);
  }

  private claim(filter: { id?: string; limit?: number }): Promise<ClaimedMessage[]> {
    const now = this.clock.now();
    // Longer than a send can take (the transport's timeouts are MAIL_SEND_TIMEOUT_MS each), so a
    // message is never claimed again while its first send is still under way (MAIL_LEASE_SECONDS).
    return this.outbox.claim(filter, now, addSeconds(now, this.config.mailLeaseSeconds));
  }

  private async deliverRow(row: ClaimedMessage): Promise<boolean> {
    try {
      if (!row.dataEncrypted) throw new Error('message data missing');
      const data = JSON.parse(decrypt(this.keys.key('outbox-encryption'), row.dataEncrypted)) as Record<string, unknown>;
      if (typeof data.expiresAt === 'string' && new Date(data.expiresAt) <= this.clock.now()) {
        // A code that can no longer be used is not worth sending late.
        await this.outbox.markFailed(row.id, {
          giveUp: true,
          nextAttemptAt: this.clock.now(),
          reason: 'expired before delivery',
        });
        this.metrics.mailDeliveryFailed('given_up');
        return false;
      }
      const rendered = this.templates.render(row.template as MailTemplateName, row.locale, data);
      const info = await this.mailer.sendMail({ to: row.to, ...rendered });
      if (!this.config.SMTP_URL) this.writeEml(row.id, info.message as Buffer);
      await this.outbox.markSent(row.id, this.clock.now());
      this.metrics.mailDelivered();
      // The template's name, never its data (codes, links).
      this.logger.log(`Delivered message ${row.id} (${row.template}, attempt ${row.attempts})`);
      return true;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const giveUp = row.attempts >= this.config.MAIL_MAX_ATTEMPTS;
      const backoff = Math.min(MAX_BACKOFF_SECONDS, 5 * 2 ** (row.attempts - 1));
      await this.outbox.markFailed(row.id, { giveUp, nextAttemptAt: addSeconds(this.clock.now(), backoff), reason });
      this.metrics.mailDeliveryFailed(giveUp ? 'given_up' : 'retrying');
      this.logger.warn(
        `Delivery of message ${row.id} (${row.template}) failed, attempt ${row.attempts}: ${reason}` +
          (giveUp ? '; giving up' : `; retrying in ${backoff}s`),
      );
      return false;
    }
  }

  private writeEml(id: string, message: Buffer): void {
    const dir = join(this.config.dataDir, 'mail');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${this.clock.now().toISOString().replace(/[:.]/g, '-')}-${id}.eml`);
    writeFileSync(file, message, { mode: 0o600 });
    this.logger.log(`Mail written to ${file}`);
  }
}
