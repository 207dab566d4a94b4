import { Module } from '@nestjs/common';
import { MailerModule } from '@nestjs-modules/mailer';
import { AppConfig } from '../config/app-config.js';
import { MailDeliveryWorker } from './mail-delivery.worker.js';
import { MailTemplates } from './mail-templates.service.js';
import { MailService } from './mail.service.js';
import { OutboxMetricsCollector } from './outbox-metrics.collector.js';
import { OutboxRepository } from './outbox.repository.js';

/**
 * SMTP_URL as nodemailer options, with timeouts: nodemailer's defaults (minutes) would let one send
 * outlive the outbox lease and be sent twice.
 */
export function smtpTransport(url: string, timeoutMs: number) {
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
  };
}

@Module({
  imports: [
    MailerModule.forRootAsync({
      imports: [],
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        // No SMTP server configured: render the message to a buffer and keep it as an .eml file.
        transport: config.SMTP_URL
          ? smtpTransport(config.SMTP_URL, config.MAIL_SEND_TIMEOUT_MS)
          : { streamTransport: true, buffer: true, newline: 'unix' },
        defaults: { from: config.MAIL_FROM },
      }),
    }),
  ],
  providers: [OutboxRepository, MailTemplates, MailService, MailDeliveryWorker, OutboxMetricsCollector],
  exports: [MailService, MailTemplates, MailDeliveryWorker],
})
export class MailModule {}
