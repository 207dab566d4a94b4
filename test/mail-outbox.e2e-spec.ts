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

  it('queues a message claimed by the instance that sends it; the worker takes it only once that claim lapsed', async () => {
    const to = 'outbox-worker@example.com';
    const queued = await queue(to);
    const [row] = (await t.db.query('SELECT status, attempts, lease_until, created_at FROM mail_outbox WHERE id = $1', [
      queued.id,
    ])) as Array<{ status: string; attempts: number; lease_until: Date; created_at: Date }>;
    expect(row).toMatchObject({ status: 'sending', attempts: 1 });
    expect(row!.lease_until.getTime() - row!.created_at.getTime()).toBe(t.config.mailLeaseSeconds * 1000);
    // As if the process died before its first delivery attempt: a send timeout later, the message
    // is still its own; the worker takes it over once the lease has run out.
    await expect(t.worker.runOnce()).resolves.toBe(0);
    t.clock.advance(t.config.MAIL_SEND_TIMEOUT_MS / 1000);
    await expect(t.worker.runOnce()).resolves.toBe(0);
    t.clock.advance(t.config.mailLeaseSeconds);
    await expect(t.worker.runOnce()).resolves.toBe(1);
    await expect(t.mail.waitFor((m) => m.to.includes(to))).resolves.toMatchObject({ subject: 'Confirm your email address' });
  });

  it('sends a queued message without claiming it again, in one attempt', async () => {
    const to = 'outbox-direct@example.com';
    const queued = await queue(to);
    await expect(mail.deliverNow([queued])).resolves.toBe(true);
    await expect(t.mail.waitFor((m) => m.to.includes(to))).resolves.toMatchObject({ subject: 'Confirm your email address' });
    const [row] = await t.db.query('SELECT status, attempts, lease_until, data_encrypted FROM mail_outbox WHERE id = $1', [
      queued.id,
    ]);
    expect(row).toEqual({ status: 'sent', attempts: 1, lease_until: null, data_encrypted: null });
  });

  it('delivers a message once, whether the late request or the worker gets to it after the claim lapsed', async () => {
    const to = 'outbox-once@example.com';
    const queued = await queue(to);
    t.clock.advance(t.config.mailLeaseSeconds);
    const [now, worker] = await Promise.all([mail.deliverNow([queued]), t.worker.runOnce()]);
    expect(now || worker === 1).toBe(true);
    await t.mail.waitFor((m) => m.to.includes(to));
    await expect(t.worker.runOnce()).resolves.toBe(0);
    expect(t.mail.count(to)).toBe(1);
    const [row] = await t.db.query('SELECT status, attempts, data_encrypted FROM mail_outbox WHERE id = $1', [queued.id]);
    // The claim made when it was queued, and the one that won the race.
    expect(row).toEqual({ status: 'sent', attempts: 2, data_encrypted: null });
  });

  it('sends one message after another over one SMTP connection, kept open between them', async () => {
    const before = t.mail.connectionsOpened;
    for (const to of ['pool-1@example.com', 'pool-2@example.com', 'pool-3@example.com']) {
      const queued = await queue(to);
      await expect(mail.deliverNow([queued])).resolves.toBe(true);
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
      const queued = await t.db.transaction((manager) =>
        t.app.get(MailService).enqueue(manager, {
          to: ['pool-close@example.com'],
          template: 'verify-email',
          locale: 'en',
          data: { name: 'N', address: 'pool-close@example.com', link: 'http://app.test/verify-email?token=abc', ttlHours: 24 },
        }),
      );
      await expect(t.app.get(MailService).deliverNow([queued])).resolves.toBe(true);
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
