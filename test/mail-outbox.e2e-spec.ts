import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailService } from '../src/mail/mail.service.js';
import { Api, registerVerifiedUser } from './helpers/api.js';
import { holdRequests } from './helpers/service-process.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

describe('mail outbox', () => {
  let t: TestApp;
  let mail: MailService;
  beforeAll(async () => {
    t = await createTestApp();
    mail = t.app.get(MailService);
  });
  afterAll(async () => t?.close());

  const queue = (to: string) =>
    t.db.transaction((manager) =>
      mail.enqueue(manager, {
        to: [to],
        template: 'verify-email',
        locale: 'en',
        data: { name: 'N', address: to, link: 'http://app.test/verify-email?token=abc', ttlHours: 24 },
      }),
    );

  it('leaves a new message to the request that queued it; the worker takes it only if that never happened', async () => {
    const to = 'outbox-worker@example.com';
    await queue(to);
    // As if the process died before its first delivery attempt: the worker waits MAIL_SEND_TIMEOUT_MS.
    await expect(t.worker.runOnce()).resolves.toBe(0);
    t.clock.advance(t.config.MAIL_SEND_TIMEOUT_MS / 1000);
    await expect(t.worker.runOnce()).resolves.toBe(1);
    await expect(t.mail.waitFor((m) => m.to.includes(to))).resolves.toMatchObject({ subject: 'Confirm your email address' });
  });

  it('delivers a message once, whether the request or the worker gets to it', async () => {
    const to = 'outbox-once@example.com';
    const id = await queue(to);
    t.clock.advance(t.config.MAIL_SEND_TIMEOUT_MS / 1000);
    const [now, worker] = await Promise.all([mail.deliverNow([id]), t.worker.runOnce()]);
    expect(now || worker === 1).toBe(true);
    await t.mail.waitFor((m) => m.to.includes(to));
    await expect(t.worker.runOnce()).resolves.toBe(0);
    expect(t.mail.count(to)).toBe(1);
    const [row] = await t.db.query('SELECT status, attempts, data_encrypted FROM mail_outbox WHERE id = $1', [id]);
    expect(row).toEqual({ status: 'sent', attempts: 1, data_encrypted: null });
  });

  it('sends one message after another over one SMTP connection, kept open between them', async () => {
    const before = t.mail.connectionsOpened;
    for (const to of ['pool-1@example.com', 'pool-2@example.com', 'pool-3@example.com']) {
      const id = await queue(to);
      await expect(mail.deliverNow([id])).resolves.toBe(true);
    }
    expect(t.mail.count('pool-3@example.com')).toBe(1);
    // At most the one a previous test left open for reuse was opened... or none.
    expect(t.mail.connectionsOpened - before).toBeLessThanOrEqual(1);
    expect(t.mail.openConnections).toBeGreaterThanOrEqual(1);
  });
});

describe('the SMTP connections when the application stops', () => {
  it('still carry the code of a login in flight when the shutdown starts', async () => {
    const t = await createTestApp();
    try {
      const user = await registerVerifiedUser(new Api(t.baseUrl), t);
      const before = t.mail.messages.length;
      const held = await holdRequests(t.baseUrl, 1, { user: user.username, password: user.password });
      // Nest closes the mailer (onModuleDestroy) before HTTP drains: the pool must outlive it.
      const stopped = t.stopApp();
      await new Promise((resolve) => setTimeout(resolve, 200));
      held.release();
      const [answer] = await held.answers;
      held.close();
      await stopped;
      expect(answer).toMatchObject({ status: 401 });
      expect(JSON.parse((answer as { body: string }).body)).toMatchObject({ error: 'totp-required' });
      await expect(t.mail.codeFor(user.email, { after: before })).resolves.toMatch(/^\d{3}-?\d{3}$/);
    } finally {
      await t.close();
    }
  });

  it('are closed once the mail worker has stopped', async () => {
    const t = await createTestApp();
    try {
      const id = await t.db.transaction((manager) =>
        t.app.get(MailService).enqueue(manager, {
          to: ['pool-close@example.com'],
          template: 'verify-email',
          locale: 'en',
          data: { name: 'N', address: 'pool-close@example.com', link: 'http://app.test/verify-email?token=abc', ttlHours: 24 },
        }),
      );
      await expect(t.app.get(MailService).deliverNow([id])).resolves.toBe(true);
      expect(t.mail.openConnections).toBe(1);
      await t.stopApp();
      const deadline = Date.now() + 2_000;
      while (t.mail.openConnections > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(t.mail.openConnections).toBe(0);
    } finally {
      await t.close();
    }
  });
});
