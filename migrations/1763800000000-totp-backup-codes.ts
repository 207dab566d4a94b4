import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Backup codes for TOTP users (`two_factor_methods` already holds the TOTP secret and last step). */
export class TotpBackupCodes1763800000000 implements MigrationInterface {
  name = 'TotpBackupCodes1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE backup_codes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id varchar(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        code_hmac char(64) NOT NULL,
        used_at timestamptz,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX backup_codes_user_id_idx ON backup_codes (user_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE backup_codes`);
  }
}
