import { afterAll, beforeAll, describe, it } from 'vitest';
import { MailerService } from '@nestjs-modules/mailer';
import { Api, registerVerifiedUser } from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
describe('probe', () => {
  let t: TestApp; let api: Api;
  beforeAll(async () => { t = await createTestApp({LOG_LEVEL:'warn'}); api = new Api(t.baseUrl); });
  afterAll(async () => t?.close());
  it('x', async () => {
    const m = t.app.get(MailerService);
    const orig = m.sendMail.bind(m);
    (m as any).sendMail = async (o: any) => { const s = Date.now(); try { const r = await orig(o); console.log('sent', Date.now()-s); return r; } catch (e) { console.log('ERR', Date.now()-s, e); throw e; } };
    const q = t.db.query.bind(t.db);
    (t.db as any).query = async (sql: string, p: any) => { try { return await q(sql, p); } catch (e) { console.log('SQLERR', sql, e); throw e; } };
    const user = await registerVerifiedUser(api, t);
    t.mail.failNext(1);
    const s = Date.now();
    const res = await api.post('/api/v1/login', { user: user.username, password: user.password });
    console.log(res.status, Date.now() - s);
    await new Promise(r => setTimeout(r, 1000));
    console.log(await t.db.query(`SELECT status, last_error FROM mail_outbox`));
  });
});
