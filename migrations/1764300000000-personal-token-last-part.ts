import type { MigrationInterface, QueryRunner } from 'typeorm';

export class PersonalTokenLastPart1764300000000 implements MigrationInterface {
  name = 'PersonalTokenLastPart1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // The end of a personal access token, shown in lists so users can tell their tokens apart
    // (Rocket.Chat's lastTokenPart); 6 characters of 43 give nothing useful away.
    await queryRunner.query(`ALTER TABLE sessions ADD COLUMN last_token_part varchar(8)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE sessions DROP COLUMN last_token_part`);
  }
}
