import { Inject, Injectable } from '@nestjs/common';
import type { Transport } from 'nodemailer';
import SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { AppConfig } from '../config/app-config.js';

/**
 * No limit of the pool's own: a message never waits in it for a connection. The outbox lease
 * counts on a send ending within its own three timeouts (MAIL_LEASE_SECONDS); a queue in front
 * of a few stalled connections would let a message wait longer, and be claimed and sent twice.
 * As many connections as sends at once, then, as without a pool: what changes is that an idle
 * one is reused.
 */
export const SMTP_MAX_CONNECTIONS = Number.POSITIVE_INFINITY;

/** Messages per connection before it is replaced (nodemailer's default): a server's per-session limits stay far. */
const SMTP_MESSAGES_PER_CONNECTION = 100;

/**
 * SMTP_URL as nodemailer options, with timeouts: nodemailer's defaults (minutes) would let one send
 * outlive the outbox lease and be sent twice. An idle connection is closed after the same time.
 */
export function smtpTransport(url: string, timeoutMs: number): SMTPPool.Options {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'smtps:';
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : secure ? 465 : 587,
    secure,
    auth: parsed.username ? { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    pool: true,
    maxConnections: SMTP_MAX_CONNECTIONS,
    maxMessages: SMTP_MESSAGES_PER_CONNECTION,
  };
}

/**
 * The SMTP connections, reused from one message to the next: a connection per message cost its
 * TCP (and, against a real relay, TLS) handshake, greeting and EHLO every time, a tenth of the
 * service's CPU per login in the benchmark. The mailer gets `transport()`, which sends through the
 * pool but leaves it open when the mailer closes: that happens before HTTP has drained (Nest's
 * onModuleDestroy), and a login still in flight must get its code out. The mail worker closes the
 * pool once it has stopped, the last sender.
 */
@Injectable()
export class SmtpConnections {
  private readonly pool?: SMTPPool;

  constructor(@Inject(AppConfig) config: AppConfig) {
    if (config.SMTP_URL) this.pool = new SMTPPool(smtpTransport(config.SMTP_URL, config.MAIL_SEND_TIMEOUT_MS));
  }

  /** The mailer's transport: null without SMTP_URL (messages are then written as .eml files). */
  transport(): Transport<SMTPPool.SentMessageInfo> | null {
    const pool = this.pool;
    if (!pool) return null;
    return {
      name: pool.name,
      version: pool.version,
      send: (mail, callback) => pool.send(mail, callback),
      // No close(): see above.
    };
  }

  close(): void {
    this.pool?.close();
  }
}
