import type { QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Credentials, loginWithEmailCode, registerVerifiedUser, type TestUser } from './helpers/api.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * users.account_snapshot (migrations/1764600000000-account-snapshot.ts): what every authenticated
 * request reads for the user's addresses and methods, kept by triggers. It must say what the
 * tables say after any write, by any path, at once.
 */
describe('the account snapshot', () => {
  let t: TestApp;
  let api: Api;
  let user: TestUser;
  let auth: Credentials;
  let userId: string;

  beforeAll(async () => {
    t = await createTestApp();
    api = new Api(t.baseUrl);
    user = await registerVerifiedUser(api, t);
    auth = await loginWithEmailCode(api, t, user);
    userId = auth.userId;
  });
  afterAll(async () => t?.close());

  /** The snapshot as stored, and as built from the tables now. */
  async function storedAndActual(id = userId) {
    const [row] = (await t.db.query(
      `SELECT account_snapshot::text AS stored, account_snapshot_of(id)::text AS actual FROM users WHERE id = $1`,
      [id],
    )) as Array<{ stored: string; actual: string }>;
    return { stored: JSON.parse(row!.stored) as unknown, actual: JSON.parse(row!.actual) as unknown };
  }

  async function expectInStep(id = userId) {
    const { stored, actual } = await storedAndActual(id);
    expect(stored).toEqual(actual);
    return stored as {
      emails: Array<{ address: string; is_primary: boolean; verified_at: string | null }>;
      enabled_methods: string[];
    };
  }

  /** Until a statement of this database waits on a lock. */
  async function waitForLockWait() {
    const deadline = Date.now() + 5000;
    for (;;) {
      const [{ waiting }] = (await t.db.query(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      )) as [{ waiting: number }];
      if (waiting > 0) return;
      if (Date.now() > deadline) throw new Error('No statement waited on a lock');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  const me = async () => {
    const res = await api.get('/api/v1/me', { auth });
    expect(res.status).toBe(200);
    return res.body as { emails: Array<{ address: string; verified: boolean }>; services: Record<string, { enabled: boolean }> };
  };

  it('is built for a user made through the API: their verified address, email 2FA on', async () => {
    const snapshot = await expectInStep();
    expect(snapshot.emails).toEqual([expect.objectContaining({ address: user.email, is_primary: true })]);
    expect(snapshot.emails[0]!.verified_at).toEqual(expect.any(String));
    expect(snapshot.enabled_methods).toEqual(['email']);
  });

  it('follows writes made in SQL behind the service’s back, and /me shows them on the next request', async () => {
    const second = `second-${user.email}`;
    await t.db.query(`INSERT INTO user_emails (user_id, address, is_primary) VALUES ($1, $2, false)`, [userId, second]);
    expect((await expectInStep()).emails.map((email) => email.address)).toEqual([user.email, second]);
    expect((await me()).emails).toEqual([
      { address: user.email, verified: true },
      { address: second, verified: false },
    ]);

    await t.db.query(`UPDATE user_emails SET verified_at = now() WHERE address = $1`, [second]);
    expect((await me()).emails).toContainEqual({ address: second, verified: true });
    await expectInStep();

    await t.db.query(`DELETE FROM two_factor_methods WHERE user_id = $1 AND method = 'email'`, [userId]);
    expect((await expectInStep()).enabled_methods).toEqual([]);
    expect((await me()).services.email2fa).toEqual({ enabled: false });

    await t.db.query(`INSERT INTO two_factor_methods (user_id, method, status) VALUES ($1, 'email', 'pending')`, [userId]);
    expect((await expectInStep()).enabled_methods).toEqual([]);
    await t.db.query(`UPDATE two_factor_methods SET status = 'enabled' WHERE user_id = $1 AND method = 'email'`, [userId]);
    expect((await expectInStep()).enabled_methods).toEqual(['email']);
    expect((await me()).services.email2fa).toEqual({ enabled: true });

    await t.db.query(`DELETE FROM user_emails WHERE address = $1`, [second]);
    expect((await expectInStep()).emails.map((email) => email.address)).toEqual([user.email]);
    expect((await me()).emails).toEqual([{ address: user.email, verified: true }]);
  });

  it('is what a login goes by: the methods it asks for and the addresses it mails, after writes made in SQL', async () => {
    const other = await registerVerifiedUser(api, t);
    const [{ id: otherId }] = (await t.db.query(`SELECT id FROM users WHERE username = $1`, [other.username])) as [
      { id: string },
    ];
    const login = () => api.post('/api/v1/login', { user: other.username, password: other.password });

    const added = `added-${other.email}`;
    await t.db.query(`INSERT INTO user_emails (user_id, address, is_primary, verified_at) VALUES ($1, $2, false, now())`, [
      otherId,
      added,
    ]);
    const before = t.mail.messages.length;
    const asked = await login();
    expect(asked.status).toBe(401);
    expect(asked.body).toMatchObject({ error: 'totp-required', details: { method: 'email', availableMethods: ['email'] } });
    await expect(t.mail.codeFor(added, { after: before })).resolves.toMatch(/^\d{3}-?\d{3}$/);
    await expect(t.mail.codeFor(other.email, { after: before })).resolves.toMatch(/^\d{3}-?\d{3}$/);

    await t.db.query(`DELETE FROM two_factor_methods WHERE user_id = $1 AND method = 'email'`, [otherId]);
    const passed = await login();
    expect(passed.status).toBe(200);
    expect(passed.body).toMatchObject({ status: 'success', data: { userId: otherId } });
  });

  it('rolls back with the write that changed it', async () => {
    const before = await expectInStep();
    await expect(
      t.db.transaction(async (manager) => {
        await manager.query(`INSERT INTO user_emails (user_id, address, is_primary) VALUES ($1, $2, false)`, [
          userId,
          `rolled-back-${user.email}`,
        ]);
        throw new Error('abandon');
      }),
    ).rejects.toThrow('abandon');
    expect(await expectInStep()).toEqual(before);
  });

  it('overrules a value written to it by hand', async () => {
    await t.db.query(`UPDATE users SET account_snapshot = '{"emails":[],"enabled_methods":["totp"]}' WHERE id = $1`, [userId]);
    const snapshot = await expectInStep();
    expect(snapshot.enabled_methods).toEqual(['email']);
    expect(snapshot.emails).toHaveLength(1);
  });

  it('keeps both of two changes committed at the same time for one user', async () => {
    const other = await registerVerifiedUser(api, t);
    const [{ id: otherId }] = (await t.db.query(`SELECT id FROM users WHERE username = $1`, [other.username])) as [
      { id: string },
    ];
    // The second transaction's trigger waits on the user's row, locked by the first one's, and
    // builds its snapshot once the first has committed: it must see that address too.
    const insert = (runner: QueryRunner, index: number) =>
      runner.query(`INSERT INTO user_emails (user_id, address, is_primary) VALUES ($1, $2, false)`, [
        otherId,
        `parallel-${index}-${other.email}`,
      ]);
    const [first, second] = [t.db.createQueryRunner(), t.db.createQueryRunner()];
    try {
      await first.startTransaction();
      await second.startTransaction();
      await insert(first, 0);
      const waiting = insert(second, 1);
      await waitForLockWait();
      await first.commitTransaction();
      await waiting;
      await second.commitTransaction();
    } finally {
      await first.release();
      await second.release();
    }
    const snapshot = await expectInStep(otherId);
    expect(snapshot.emails.map((email) => email.address).sort()).toEqual(
      [other.email, `parallel-0-${other.email}`, `parallel-1-${other.email}`].sort(),
    );
  });

  it('is the only column the entity metadata adds, and the migrations leave nothing for TypeORM to change', async () => {
    const pending = await t.db.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((query) => query.query)).toEqual([]);
  });
});
