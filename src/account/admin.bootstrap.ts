import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { AccountService } from './account.service.js';

/** ADMIN_USERNAME / ADMIN_EMAIL / ADMIN_PASSWORD: create that admin on start if missing. */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  constructor(private readonly accounts: AccountService) {}

  onApplicationBootstrap(): Promise<void> {
    return this.accounts.ensureAdmin();
  }
}
