import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { MailService } from './mail.service.js';
import { SmtpConnections } from './smtp-connections.js';

/** Retries queued mail in the background; several instances may run it (rows are leased). */
@Injectable()
export class MailDeliveryWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('MailWorker');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly mail: MailService,
    private readonly smtp: SmtpConnections,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.config.MAIL_WORKER_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    // HTTP has drained and this pass is over: nothing sends any more.
    this.smtp.close();
    this.logger.log('Shutdown: mail worker stopped');
  }

  /** One pass over the due messages (also called by tests). */
  async runOnce(): Promise<number> {
    let total = 0;
    for (let sent = await this.mail.deliverDue(); sent > 0; sent = await this.mail.deliverDue()) total += sent;
    return total;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.runOnce()
      .then(() => undefined)
      .catch((error: unknown) => this.logger.error(`Mail worker pass failed: ${String(error)}`))
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
  }
}
