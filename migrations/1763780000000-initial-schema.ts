import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1763780000000 implements MigrationInterface {
  name = 'InitialSchema1763780000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE users (
        id varchar(32) PRIMARY KEY,
        username varchar(64) NOT NULL,
        name varchar(128) NOT NULL DEFAULT '',
        password_hash text,
        locale varchar(16),
        roles text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))`);

    await queryRunner.query(`
      CREATE TABLE user_emails (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id varchar(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        address varchar(254) NOT NULL,
        verified_at timestamptz,
        is_primary boolean NOT NULL DEFAULT false,
        verification_token_hash char(64),
        verification_expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX user_emails_address_lower_key ON user_emails (lower(address))`);
    await queryRunner.query(`CREATE INDEX user_emails_user_id_idx ON user_emails (user_id)`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX user_emails_verification_token_key ON user_emails (verification_token_hash) WHERE verification_token_hash IS NOT NULL`,
    );

    await queryRunner.query(`
      CREATE TABLE sessions (
        id varchar(32) PRIMARY KEY,
        user_id varchar(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        token_hash char(64) NOT NULL,
        kind varchar(16) NOT NULL CHECK (kind IN ('login', 'personal')),
        name varchar(128),
        bypass_two_factor boolean NOT NULL DEFAULT false,
        two_factor_until timestamptz,
        two_factor_fingerprint char(64),
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash)`);
    await queryRunner.query(`CREATE INDEX sessions_user_id_idx ON sessions (user_id)`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX sessions_personal_name_key ON sessions (user_id, name) WHERE kind = 'personal' AND revoked_at IS NULL`,
    );

    await queryRunner.query(`
      CREATE TABLE two_factor_methods (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id varchar(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        method varchar(16) NOT NULL CHECK (method IN ('email', 'totp')),
        status varchar(16) NOT NULL CHECK (status IN ('pending', 'enabled')),
        secret_encrypted text,
        last_totp_step bigint,
        changed_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT two_factor_methods_user_method_key UNIQUE (user_id, method)
      )`);

    await queryRunner.query(`
      CREATE TABLE email_codes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id varchar(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose varchar(32) NOT NULL,
        challenge_id varchar(64),
        code_hmac char(64) NOT NULL,
        expires_at timestamptz NOT NULL,
        consumed_at timestamptz,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX email_codes_outstanding_idx ON email_codes (user_id, purpose, expires_at) WHERE consumed_at IS NULL`,
    );

    // Wrong codes per user and purpose; a resend does not reset it, so resends buy no guesses.
    await queryRunner.query(`
      CREATE TABLE code_attempts (
        user_id varchar(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose varchar(32) NOT NULL,
        failures integer NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, purpose)
      )`);

    // Consecutive second-factor failures of any method, for the account lockout.
    await queryRunner.query(`
      CREATE TABLE second_factor_failures (
        user_id varchar(32) PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        consecutive_failures integer NOT NULL DEFAULT 0,
        locked_until timestamptz
      )`);

    await queryRunner.query(`
      CREATE TABLE mail_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        "to" text[] NOT NULL,
        template varchar(64) NOT NULL,
        locale varchar(16) NOT NULL,
        data_encrypted text,
        status varchar(16) NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        lease_until timestamptz,
        last_error text,
        created_at timestamptz NOT NULL,
        sent_at timestamptz
      )`);
    await queryRunner.query(
      `CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status IN ('pending', 'sending')`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      'mail_outbox',
      'second_factor_failures',
      'code_attempts',
      'email_codes',
      'two_factor_methods',
      'sessions',
      'user_emails',
      'users',
    ]) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
