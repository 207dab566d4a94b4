import { Injectable } from '@nestjs/common';
import { PasswordService } from '../../auth/password.service.js';
import type { User } from '../../users/user.entity.js';
import type { SecondFactorStrategy, StrategyVerdict } from './second-factor.strategy.js';

/** The hex SHA-256 of the password: the stand-in for users who have no method (Rocket.Chat's fallback). */
@Injectable()
export class PasswordStrategy implements SecondFactorStrategy {
  readonly method = 'password' as const;

  constructor(private readonly passwords: PasswordService) {}

  async verify(user: User, code: string): Promise<StrategyVerdict> {
    return (await this.passwords.verifyDigest(user.passwordHash, code)) ? 'verified' : 'invalid';
  }
}
