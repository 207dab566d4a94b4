import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows.js';
import { MailOutbox } from './mail-outbox.entity.js';

/** A message claimed for one delivery attempt. */
export interface ClaimedMessage {
  id: string;
  to: string[];
  template: string;
  locale: string;
  dataEncrypted: string | null;
  /** Including this one. */
  attempts: number;
  /** Until when no one else may claim it. */
  leaseUntil: Date;
}

/** The `mail_outbox` table: messages queued with the change that caused them, leased for delivery. */
@Injectable()
export class OutboxRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Queues a message already claimed for its first attempt by the caller (`sending`, leased until
   * `leaseUntil`, one attempt): the instance that queues a message sends it right after the commit,
   * so claiming it then would cost a statement for nothing. Should that instance die first, the
   * lease lapses and the worker takes the message over, as it does from a sender that died.
   */
  async insertClaimed(
    db: EntityManager,
    row: Pick<MailOutbox, 'to' | 'template' | 'locale' | 'dataEncrypted' | 'createdAt'> & { leaseUntil: Date },
  ): Promise<ClaimedMessage> {
    // Plain SQL (one per message): TypeORM's insert builder cost more than the statement.
    const [created] = await queryRows<{ id: string }>(
      db,
      `INSERT INTO mail_outbox ("to", template, locale, data_encrypted, status, attempts, next_attempt_at, lease_until, created_at)
       VALUES ($1, $2, $3, $4, 'sending', 1, $5, $6, $5) RETURNING id`,
      [row.to, row.template, row.locale, row.dataEncrypted, row.createdAt, row.leaseUntil],
    );
    return {
      id: String(created!.id),
      to: row.to,
      template: row.template,
      locale: row.locale,
      dataEncrypted: row.dataEncrypted,
      attempts: 1,
      leaseUntil: row.leaseUntil,
    };
  }

  /**
   * A lease instead of a long transaction: due rows (or one by id) are claimed with FOR UPDATE
   * SKIP LOCKED and marked `sending` until `leaseUntil`, so several workers never send one message
   * twice while it is leased. A lapsed lease (a sender that died) makes a row claimable again.
   */
  async claim(filter: { id?: string; limit?: number }, now: Date, leaseUntil: Date): Promise<ClaimedMessage[]> {
    const params: unknown[] = [now, leaseUntil];
    let where = `((status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND lease_until < $1))`;
    if (filter.id) {
      params.push(filter.id);
      where = `id = $3 AND (status = 'pending' OR (status = 'sending' AND lease_until < $1))`;
    }
    params.push(filter.limit ?? 1);
    const rows = await queryRows<{
      id: string;
      to: string[];
      template: string;
      locale: string;
      data_encrypted: string | null;
      attempts: number;
    }>(
      this.dataSource,
      `UPDATE mail_outbox SET status = 'sending', lease_until = $2, attempts = attempts + 1
        WHERE id IN (SELECT id FROM mail_outbox WHERE ${where}
                     ORDER BY next_attempt_at LIMIT $${params.length} FOR UPDATE SKIP LOCKED)
        RETURNING id, "to", template, locale, data_encrypted, attempts`,
      params,
    );
    return rows.map((row) => ({
      id: String(row.id),
      to: row.to,
      template: row.template,
      locale: row.locale,
      dataEncrypted: row.data_encrypted,
      attempts: Number(row.attempts),
      leaseUntil,
    }));
  }

  /**
   * Messages not yet delivered nor given up (pending, or being sent) and when the oldest of them
   * was queued: one aggregate over the rows the due index covers.
   */
  async backlog(): Promise<{ pending: number; oldestCreatedAt: Date | null }> {
    const [row] = await queryRows<{ pending: number; oldest: Date | null }>(
      this.dataSource,
      `SELECT count(*)::int AS pending, min(created_at) AS oldest FROM mail_outbox WHERE status IN ('pending', 'sending')`,
    );
    return { pending: Number(row?.pending ?? 0), oldestCreatedAt: row?.oldest ? new Date(row.oldest) : null };
  }

  async isSent(id: string): Promise<boolean> {
    const row = await this.dataSource.getRepository(MailOutbox).findOne({ where: { id }, select: { status: true } });
    return row?.status === 'sent';
  }

  /** Delivered: its data (codes, links) erased. */
  async markSent(id: string, at: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE mail_outbox SET status = 'sent', sent_at = $2, lease_until = NULL, last_error = NULL, data_encrypted = NULL WHERE id = $1`,
      [id, at],
    );
  }

  /** Given up (its data erased), or back to pending for another attempt at `nextAttemptAt`. */
  async markFailed(id: string, failure: { giveUp: boolean; nextAttemptAt: Date; reason: string }): Promise<void> {
    await this.dataSource.query(
      // $2 typed once: `status = $2` alone deduces varchar, `$2 = 'failed'` text, and PostgreSQL
      // rejects the statement ("inconsistent types deduced"), leaving the row stuck in `sending`.
      `UPDATE mail_outbox SET status = $2::varchar, next_attempt_at = $3, lease_until = NULL, last_error = $4,
              data_encrypted = CASE WHEN $2::varchar = 'failed' THEN NULL ELSE data_encrypted END
        WHERE id = $1`,
      [id, failure.giveUp ? 'failed' : 'pending', failure.nextAttemptAt, failure.reason.slice(0, 500)],
    );
  }
}
