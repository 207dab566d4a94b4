import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailService } from '../src/mail/mail.service.js';
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
});
