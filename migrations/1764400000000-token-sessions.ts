import type { MigrationInterface, QueryRunner } from 'typeorm';

export class TokenSessions1764400000000 implements MigrationInterface {
  name = 'TokenSessions1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Surface 2 lets users pick the method they are asked for first.
    await queryRunner.query(`
      ALTER TABLE users ADD COLUMN preferred_two_factor_method varchar(16)
        CONSTRAINT users_preferred_two_factor_method_check CHECK (preferred_two_factor_method IN ('email', 'totp'))`);

    // Sessions of surface 2 ('token'): JWT access tokens name the session and its access generation
    // (bumped to revoke every access token at once); token_hash holds the hash of the current
    // refresh token's id, so a rotated-away refresh token no longer matches.
    await queryRunner.query(`ALTER TABLE sessions DROP CONSTRAINT sessions_kind_check`);
    await queryRunner.query(
      `ALTER TABLE sessions ADD CONSTRAINT sessions_kind_check CHECK (kind IN ('login', 'personal', 'token'))`,
    );
    await queryRunner.query(`ALTER TABLE sessions ADD COLUMN access_generation integer NOT NULL DEFAULT 0`);
    // Where a session was opened from: the session list, and "a new device" for the login alert.
    await queryRunner.query(`ALTER TABLE sessions ADD COLUMN ip varchar(64) NOT NULL DEFAULT ''`);
    await queryRunner.query(`ALTER TABLE sessions ADD COLUMN user_agent varchar(512) NOT NULL DEFAULT ''`);
    await queryRunner.query(`ALTER TABLE sessions ADD COLUMN browser varchar(128)`);
    await queryRunner.query(`ALTER TABLE sessions ADD COLUMN os varchar(128)`);

    // A step-up challenge belongs to the session it raises.
    await queryRunner.query(
      `ALTER TABLE challenges ADD COLUMN session_id varchar(32) REFERENCES sessions (id) ON DELETE CASCADE`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE challenges DROP COLUMN session_id`);
    for (const column of ['os', 'browser', 'user_agent', 'ip', 'access_generation']) {
      await queryRunner.query(`ALTER TABLE sessions DROP COLUMN ${column}`);
    }
    await queryRunner.query(`DELETE FROM sessions WHERE kind = 'token'`);
    await queryRunner.query(`ALTER TABLE sessions DROP CONSTRAINT sessions_kind_check`);
    await queryRunner.query(`ALTER TABLE sessions ADD CONSTRAINT sessions_kind_check CHECK (kind IN ('login', 'personal'))`);
    await queryRunner.query(`ALTER TABLE users DROP COLUMN preferred_two_factor_method`);
  }
}
