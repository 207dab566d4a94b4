// The SMTP server the service mails its codes to (SMTP_URL), as test/helpers/smtp-sink.ts does:
// codes are read from real, parsed mail, so mail delivery is part of what the login flow costs.
import { Buffer } from 'node:buffer';
import { clearTimeout } from 'node:timers';
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';

const CODE = /\b(\d{3}-\d{3})\b/;

export async function startMailSink() {
  const listeners = new Set();
  const received = (to, code) => {
    for (const listener of listeners) listener({ to, code });
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (chunk) => chunks.push(chunk));
      stream.on('end', () => {
        PostalMime.parse(Buffer.concat(chunks))
          .then((email) => {
            // Only code mails count; security alerts and the like are taken and dropped.
            const code = CODE.exec(email.text ?? '')?.[1];
            if (code) for (const rcpt of session.envelope.rcptTo) received(rcpt.address.toLowerCase(), code);
            callback();
          })
          .catch(callback);
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `smtp://127.0.0.1:${server.server.address().port}`,
    /** Every code mail as {to, code}; returns the unsubscribe function. */
    onCode(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** The next code mailed to `address`: call it before the request that sends the code. */
    nextCode(address, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`no code mailed to ${address} within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const listener = ({ to, code }) => {
          if (to !== address.toLowerCase()) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(code);
        };
        listeners.add(listener);
      });
    },
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
