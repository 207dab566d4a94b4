import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { User } from '../../users/user.entity.js';
import { EmailCodesService, SECOND_FACTOR_PURPOSE } from '../email-codes.service.js';
import type { SecondFactorStrategy, StrategyVerdict } from './second-factor.strategy.js';

/** A code mailed to the user's verified addresses. */
@Injectable()
export class EmailCodeStrategy implements SecondFactorStrategy {
  readonly method = 'email' as const;

  constructor(private readonly codes: EmailCodesService) {}

  verify(user: User, code: string, db: EntityManager): Promise<StrategyVerdict> {
    return this.codes.check(user.id, SECOND_FACTOR_PURPOSE, code, db);
  }
}
