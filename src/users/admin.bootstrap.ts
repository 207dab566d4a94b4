import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { UsersService } from './users.service.js';

/** ADMIN_USERNAME / ADMIN_EMAIL / ADMIN_PASSWORD: create that admin on start if missing. */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  constructor(private readonly users: UsersService) {}

  onApplicationBootstrap(): Promise<void> {
    return this.users.ensureAdmin();
  }
}
