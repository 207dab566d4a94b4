import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditEvents1763790000000 implements MigrationInterface {
  name = 'AuditEvents1763790000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id varchar(32) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        type varchar(48) NOT NULL,
        method varchar(16),
        outcome varchar(16) NOT NULL CHECK (outcome IN ('success', 'failure')),
        ip varchar(64) NOT NULL DEFAULT '',
        user_agent varchar(512) NOT NULL DEFAULT '',
        at timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX audit_events_user_at_idx ON audit_events (user_id, at DESC, id DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_events`);
  }
}
