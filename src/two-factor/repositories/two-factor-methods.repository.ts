import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../../database/query-rows.js';
import type { EnableableMethod } from '../two-factor.types.js';
import type { TwoFactorMethodStatus } from '../two-factor-method.entity.js';

/** What decides a user's available methods: the methods switched on, and whether an address is verified. */
export interface MethodFacts {
  enabled: readonly string[];
  hasVerifiedEmail: boolean;
}

export interface TotpRow {
  id: string;
  status: TwoFactorMethodStatus;
  secretEncrypted: string | null;
  lastTotpStep: number | null;
}

/** The `two_factor_methods` table: which methods a user has, and the TOTP secret and last step. */
@Injectable()
export class TwoFactorMethodsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The facts behind a user's available methods (see TwoFactorService.available): one round trip. */
  async enabled(userId: string, db: EntityManager = this.dataSource.manager): Promise<MethodFacts> {
    const [row] = await queryRows<{ methods: EnableableMethod[]; has_verified_email: boolean }>(
      db,
      `SELECT ARRAY(SELECT m.method FROM two_factor_methods m WHERE m.user_id = $1 AND m.status = 'enabled') AS methods,
              EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = $1 AND e.verified_at IS NOT NULL) AS has_verified_email`,
      [userId],
    );
    return { enabled: row?.methods ?? [], hasVerifiedEmail: row?.has_verified_email ?? false };
  }

  /** Turns email on; false when it already was. */
  async enableEmail(db: EntityManager, userId: string, now: Date): Promise<boolean> {
    const changed = await queryRows(
      db,
      `INSERT INTO two_factor_methods (user_id, method, status, changed_at) VALUES ($1, 'email', 'enabled', $2)
       ON CONFLICT (user_id, method) DO UPDATE SET status = 'enabled', changed_at = $2
        WHERE two_factor_methods.status <> 'enabled'
       RETURNING id`,
      [userId, now],
    );
    return changed.length > 0;
  }

  /** Removes the method (pending or enabled); the status it had, or null when there was none. */
  async remove(db: EntityManager, userId: string, method: EnableableMethod): Promise<TwoFactorMethodStatus | null> {
    const [removed] = await queryRows<{ status: TwoFactorMethodStatus }>(
      db,
      `DELETE FROM two_factor_methods WHERE user_id = $1 AND method = $2 RETURNING status`,
      [userId, method],
    );
    return removed?.status ?? null;
  }

  /** Whether TOTP is enabled, with a share lock: a parallel removal waits for the caller's transaction. */
  async totpEnabledForShare(db: EntityManager, userId: string): Promise<boolean> {
    const rows = await queryRows(
      db,
      `SELECT id FROM two_factor_methods WHERE user_id = $1 AND method = 'totp' AND status = 'enabled' FOR SHARE`,
      [userId],
    );
    return rows.length > 0;
  }

  async findTotp(userId: string, db: EntityManager = this.dataSource.manager): Promise<TotpRow | null> {
    const [row] = await queryRows<{
      id: string;
      status: TwoFactorMethodStatus;
      secret_encrypted: string | null;
      last_totp_step: string | null;
    }>(db, `SELECT id, status, secret_encrypted, last_totp_step FROM two_factor_methods WHERE user_id = $1 AND method = 'totp'`, [
      userId,
    ]);
    if (!row) return null;
    return {
      id: String(row.id),
      status: row.status,
      secretEncrypted: row.secret_encrypted,
      lastTotpStep: row.last_totp_step === null ? null : Number(row.last_totp_step),
    };
  }

  /** Stores a new pending secret, replacing a pending one; false when TOTP is already enabled. */
  async savePendingTotp(userId: string, sealedSecret: string, now: Date): Promise<boolean> {
    const saved = await queryRows(
      this.dataSource,
      `INSERT INTO two_factor_methods (user_id, method, status, secret_encrypted, last_totp_step, changed_at)
       VALUES ($1, 'totp', 'pending', $2, NULL, $3)
       ON CONFLICT (user_id, method) DO UPDATE
          SET secret_encrypted = EXCLUDED.secret_encrypted, last_totp_step = NULL, changed_at = EXCLUDED.changed_at
        WHERE two_factor_methods.status = 'pending'
       RETURNING id`,
      [userId, sealedSecret, now],
    );
    return saved.length > 0;
  }

  /** Turns on the very pending secret that was checked (a parallel set-up may have replaced it). */
  async enableTotp(db: EntityManager, id: string, sealedSecret: string, step: number, now: Date): Promise<boolean> {
    const enabled = await queryRows(
      db,
      `UPDATE two_factor_methods SET status = 'enabled', last_totp_step = $3, changed_at = $4
        WHERE id = $1 AND status = 'pending' AND secret_encrypted = $2 RETURNING id`,
      [id, sealedSecret, step, now],
    );
    return enabled.length > 0;
  }

  /** Records `step` as used; false when it (or a later one) already was: one atomic UPDATE. */
  async useTotpStep(db: EntityManager, id: string, step: number): Promise<boolean> {
    const used = await queryRows(
      db,
      `UPDATE two_factor_methods SET last_totp_step = $2
        WHERE id = $1 AND status = 'enabled' AND (last_totp_step IS NULL OR last_totp_step < $2) RETURNING id`,
      [id, step],
    );
    return used.length === 1;
  }
}
