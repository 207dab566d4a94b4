import { SMTPServer } from 'smtp-server';
import PostalMime from 'postal-mime';

const CODE_IN_TEXT = /\b\d{3}-\d{3}\b/;

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
}

/**
 * A real SMTP server in the test process. Messages are parsed with postal-mime; tests wait for
 * the message they expect. `failNext(n)` makes the next n deliveries fail with a 4xx.
 */
export class SmtpSink {
  readonly messages: ReceivedMail[] = [];
  private waiters: Array<() => void> = [];
  private failures = 0;
  private server?: SMTPServer;
  port = 0;
  /** SMTP sessions opened so far, and those still open. */
  connectionsOpened = 0;
  openConnections = 0;

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onConnect: (_session, callback) => {
        this.connectionsOpened += 1;
        this.openConnections += 1;
        callback();
      },
      onClose: () => {
        this.openConnections -= 1;
      },
      onRcptTo: (_address, _session, callback) => {
        if (this.failures > 0) {
          this.failures -= 1;
          const error = Object.assign(new Error('Mailbox temporarily unavailable'), { responseCode: 451 });
          return callback(error);
        }
        callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          PostalMime.parse(raw)
            .then((email) => {
              this.messages.push({
                from: email.from?.address ?? '',
                to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
                subject: email.subject ?? '',
                text: email.text ?? '',
                html: email.html ?? '',
                raw,
              });
              for (const wake of this.waiters.splice(0)) wake();
              callback();
            })
            .catch(callback);
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  failNext(count: number): void {
    this.failures = count;
  }

  /** Waits for the first message (from index `after` on) matching `match`. */
  async waitFor(
    match: (mail: ReceivedMail) => boolean,
    options: { after?: number; timeoutMs?: number } = {},
  ): Promise<ReceivedMail> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      const found = this.messages.slice(options.after ?? 0).find(match);
      if (found) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`No matching mail arrived (${this.messages.length} received)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The latest email code sent to `address`, as the user would read it (`123-456`). */
  async codeFor(address: string, options: { after?: number } = {}): Promise<string> {
    const mail = await this.waitFor((m) => m.to.includes(address) && /\b\d{3}-\d{3}\b/.test(m.text), options);
    return /\b(\d{3}-\d{3})\b/.exec(mail.text)![1]!;
  }

  async linkFor(address: string): Promise<string> {
    const mail = await this.waitFor((m) => m.to.includes(address) && m.text.includes('/verify-email?token='));
    return /(https?:\/\/\S+\/verify-email\?token=\S+)/.exec(mail.text)![1]!;
  }

  count(address: string): number {
    return this.messages.filter((m) => m.to.includes(address)).length;
  }

  /** Code emails delivered to `address` so far (other mail, such as verification links, is not counted). */
  codeMailCount(address: string): number {
    return this.messages.filter((m) => m.to.includes(address) && CODE_IN_TEXT.test(m.text)).length;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
