import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Challenges1763810000000 implements MigrationInterface {
  name = 'Challenges1763810000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // A pending second factor (login or step-up); the id (32 random bytes, hex) is what the client holds.
    await queryRunner.query(`
      CREATE TABLE challenges (
        id varchar(64) PRIMARY KEY,
        user_id varchar(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose varchar(16) NOT NULL CHECK (purpose IN ('login', 'step_up')),
        method varchar(16) NOT NULL,
        expires_at timestamptz NOT NULL,
        failed_attempts integer NOT NULL DEFAULT 0,
        completed_at timestamptz,
        created_at timestamptz NOT NULL,
        ip varchar(64) NOT NULL DEFAULT '',
        user_agent varchar(512) NOT NULL DEFAULT ''
      )`);
    await queryRunner.query(`CREATE INDEX challenges_user_id_idx ON challenges (user_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE challenges`);
  }
}
