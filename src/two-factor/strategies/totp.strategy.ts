import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { User } from '../../users/user.entity.js';
import { TotpService } from '../totp.service.js';
import type { SecondFactorStrategy, StrategyVerdict } from './second-factor.strategy.js';

/** A code from the authenticator app (RFC 6238, ±1 step, each step once). */
@Injectable()
export class TotpStrategy implements SecondFactorStrategy {
  readonly method = 'totp' as const;

  constructor(private readonly totp: TotpService) {}

  async verify(user: User, code: string, db: EntityManager): Promise<StrategyVerdict> {
    return (await this.totp.verify(user.id, code, db)) ? 'verified' : 'invalid';
  }
}
