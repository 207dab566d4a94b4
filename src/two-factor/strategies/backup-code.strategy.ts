import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { User } from '../../users/user.entity.js';
import { BackupCodesService } from '../backup-codes.service.js';
import type { SecondFactorStrategy, StrategyVerdict } from './second-factor.strategy.js';

/** One of a TOTP user's single-use backup (recovery) codes. */
@Injectable()
export class BackupCodeStrategy implements SecondFactorStrategy {
  readonly method = 'backup' as const;

  constructor(private readonly backupCodes: BackupCodesService) {}

  async verify(user: User, code: string, db: EntityManager): Promise<StrategyVerdict> {
    return (await this.backupCodes.consume(user.id, code, db)) ? 'verified' : 'invalid';
  }
}
