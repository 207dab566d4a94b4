import { describe, expect, it } from 'vitest';
import { SMTP_MAX_CONNECTIONS, smtpTransport } from './smtp-connections.js';

describe('smtpTransport', () => {
  it('reads host, port, TLS and credentials from SMTP_URL and bounds every wait', () => {
    expect(smtpTransport('smtps://mailer:s%3Acret@smtp.example.com:2465', 7000)).toEqual({
      host: 'smtp.example.com',
      port: 2465,
      secure: true,
      auth: { user: 'mailer', pass: 's:cret' },
      connectionTimeout: 7000,
      greetingTimeout: 7000,
      socketTimeout: 7000,
      pool: true,
      maxConnections: SMTP_MAX_CONNECTIONS,
      maxMessages: 100,
    });
  });

  it('defaults the port by scheme and sends no credentials when the URL has none', () => {
    expect(smtpTransport('smtp://127.0.0.1', 1000)).toMatchObject({
      host: '127.0.0.1',
      port: 587,
      secure: false,
      auth: undefined,
    });
    expect(smtpTransport('smtps://smtp.example.com', 1000)).toMatchObject({ port: 465, secure: true });
  });
});
