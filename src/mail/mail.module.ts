import { Module } from '@nestjs/common';
import { MailerModule } from '@nestjs-modules/mailer';
import { AppConfig } from '../config/app-config.js';
import { MailDeliveryWorker } from './mail-delivery.worker.js';
import { MailTemplates } from './mail-templates.service.js';
import { MailService } from './mail.service.js';

@Module({
  imports: [
    MailerModule.forRootAsync({
      imports: [],
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        // No SMTP server configured: render the message to a buffer and keep it as an .eml file.
        transport: config.SMTP_URL ?? { streamTransport: true, buffer: true, newline: 'unix' },
        defaults: { from: config.MAIL_FROM },
      }),
    }),
  ],
  providers: [MailTemplates, MailService, MailDeliveryWorker],
  exports: [MailService, MailTemplates, MailDeliveryWorker],
})
export class MailModule {}
