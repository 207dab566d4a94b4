import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { queryRows } from '../../database/query-rows.js';
import { BackupCode } from '../backup-code.entity.js';

/** The `backup_codes` table: HMACs of a TOTP user's single-use recovery codes. */
@Injectable()
export class BackupCodesRepository {
  constructor(private readonly dataSource: DataSource) {}

  async replaceAll(db: EntityManager, userId: string, codeHmacs: string[], now: Date): Promise<void> {
    await db.delete(BackupCode, { userId });
    await db.insert(
      BackupCode,
      codeHmacs.map((codeHmac) => ({ userId, codeHmac, usedAt: null, createdAt: now })),
    );
  }

  /** Uses up the code with this HMAC: one atomic UPDATE … WHERE used_at IS NULL, so of parallel uses one wins. */
  async use(db: EntityManager, userId: string, codeHmac: string, now: Date): Promise<boolean> {
    const used = await queryRows(
      db,
      `UPDATE backup_codes SET used_at = $3 WHERE user_id = $1 AND code_hmac = $2 AND used_at IS NULL RETURNING id`,
      [userId, codeHmac, now],
    );
    return used.length > 0;
  }

  countUnused(userId: string, db: EntityManager = this.dataSource.manager): Promise<number> {
    return db.getRepository(BackupCode).countBy({ userId, usedAt: IsNull() });
  }

  async deleteAll(db: EntityManager, userId: string): Promise<void> {
    await db.delete(BackupCode, { userId });
  }
}
