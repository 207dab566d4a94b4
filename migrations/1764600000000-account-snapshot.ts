import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `users.account_snapshot`: the user's addresses (primary first) and enabled second-factor
 * methods as one json value, `{"emails": [...], "enabled_methods": [...]}`, kept by triggers.
 *
 * Every authenticated request reads them with its session (sessions.repository.ts). Built on each
 * read, with two subqueries and a json aggregate, they cost PostgreSQL three to four times what
 * the session lookup itself costs; addresses and methods change a few times in an account's life.
 *
 * The triggers run in the transaction of the write, so the snapshot commits (or rolls back) with
 * the rows it describes, whatever code or tool wrote them:
 * - users, BEFORE INSERT OR UPDATE: the snapshot is built again from the child tables (a write
 *   that sets it by hand is overruled);
 * - user_emails and two_factor_methods, AFTER each row change: the owner's row is updated, which
 *   fires the trigger above. Two transactions changing one user's rows queue on that row's lock,
 *   and the second builds its snapshot after the first committed (READ COMMITTED: each statement
 *   of the function sees what is committed when it starts), so neither change is lost.
 */
export class AccountSnapshot1764600000000 implements MigrationInterface {
  name = 'AccountSnapshot1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE users ADD COLUMN account_snapshot json`);
    await queryRunner.query(`
      CREATE FUNCTION account_snapshot_of(owner varchar) RETURNS json LANGUAGE sql STABLE AS $$
        SELECT json_build_object(
          'emails', (SELECT coalesce(json_agg(json_build_object('id', e.id, 'address', e.address, 'verified_at', e.verified_at,
                                                                'is_primary', e.is_primary) ORDER BY e.is_primary DESC, e.id), '[]')
                       FROM user_emails e WHERE e.user_id = owner),
          'enabled_methods', ARRAY(SELECT m.method FROM two_factor_methods m
                                    WHERE m.user_id = owner AND m.status = 'enabled' ORDER BY m.method))
      $$`);
    await queryRunner.query(`
      CREATE FUNCTION users_build_account_snapshot() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.account_snapshot := account_snapshot_of(NEW.id);
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER users_account_snapshot BEFORE INSERT OR UPDATE ON users
        FOR EACH ROW EXECUTE FUNCTION users_build_account_snapshot()`);
    await queryRunner.query(`
      CREATE FUNCTION refresh_owner_account_snapshot() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'INSERT' THEN
          UPDATE users SET account_snapshot = NULL WHERE id = OLD.user_id;
        END IF;
        IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.user_id IS DISTINCT FROM OLD.user_id) THEN
          UPDATE users SET account_snapshot = NULL WHERE id = NEW.user_id;
        END IF;
        RETURN NULL;
      END
      $$`);
    for (const table of ['user_emails', 'two_factor_methods']) {
      await queryRunner.query(`
        CREATE TRIGGER ${table}_account_snapshot AFTER INSERT OR UPDATE OR DELETE ON ${table}
          FOR EACH ROW EXECUTE FUNCTION refresh_owner_account_snapshot()`);
    }
    // Existing users: the BEFORE UPDATE trigger builds each one's snapshot.
    await queryRunner.query(`UPDATE users SET account_snapshot = NULL`);
    await queryRunner.query(`ALTER TABLE users ALTER COLUMN account_snapshot SET NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['user_emails', 'two_factor_methods']) {
      await queryRunner.query(`DROP TRIGGER ${table}_account_snapshot ON ${table}`);
    }
    await queryRunner.query(`DROP FUNCTION refresh_owner_account_snapshot()`);
    await queryRunner.query(`DROP TRIGGER users_account_snapshot ON users`);
    await queryRunner.query(`DROP FUNCTION users_build_account_snapshot()`);
    await queryRunner.query(`DROP FUNCTION account_snapshot_of(varchar)`);
    await queryRunner.query(`ALTER TABLE users DROP COLUMN account_snapshot`);
  }
}
