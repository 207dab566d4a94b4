import { Module } from '@nestjs/common';
import { MailerModule } from '@nestjs-modules/mailer';
import { AppConfig } from '../config/app-config.js';
import { MailDeliveryWorker } from './mail-delivery.worker.js';
import { MailTemplates } from './mail-templates.service.js';
import { MailService } from './mail.service.js';
import { OutboxMetricsCollector } from './outbox-metrics.collector.js';
import { OutboxRepository } from './outbox.repository.js';
import { SmtpConnections } from './smtp-connections.js';

/** One pool per application, shared by the mailer (its transport) and the worker (which closes it). */
@Module({ providers: [SmtpConnections], exports: [SmtpConnections] })
class SmtpConnectionsModule {}

@Module({
  imports: [
    MailerModule.forRootAsync({
      imports: [SmtpConnectionsModule],
      inject: [AppConfig, SmtpConnections],
      useFactory: (config: AppConfig, smtp: SmtpConnections) => ({
        // No SMTP server configured: render the message to a buffer and keep it as an .eml file.
        transport: smtp.transport() ?? { streamTransport: true, buffer: true, newline: 'unix' },
        defaults: { from: config.MAIL_FROM },
      }),
    }),
    SmtpConnectionsModule,
  ],
  providers: [OutboxRepository, MailTemplates, MailService, MailDeliveryWorker, OutboxMetricsCollector],
  exports: [MailService, MailTemplates, MailDeliveryWorker],
})
export class MailModule {}
