import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock.js';
import type { ClientInfo } from '../two-factor/two-factor.types.js';
import type { AuditEvent, AuditEventType, AuditOutcome } from './audit-event.entity.js';
import { AuditRepository } from './audit.repository.js';

export interface AuditRecord {
  userId: string;
  type: AuditEventType;
  outcome: AuditOutcome;
  method?: string | null;
  /** Where the request came from; omitted for events with no request (none today). */
  client?: ClientInfo;
}

export interface AuditPage {
  events: AuditEvent[];
  total: number;
}

@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: AuditRepository,
    private readonly clock: Clock,
  ) {}

  /** Written in the caller's transaction when given one, so the event and the change commit together. */
  async record(event: AuditRecord, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await this.events.insert(manager, {
      userId: event.userId,
      type: event.type,
      outcome: event.outcome,
      method: event.method ?? null,
      ip: (event.client?.ip ?? '').slice(0, 64),
      userAgent: (event.client?.userAgent ?? '').slice(0, 512),
      at: this.clock.now(),
    });
    this.logger.verbose(`${event.type} (${event.outcome}) user ${event.userId}${event.method ? ` method ${event.method}` : ''}`);
  }

  /** The user's own events, newest first. */
  async list(userId: string, page: { count: number; offset: number }): Promise<AuditPage> {
    const [events, total] = await this.events.page(userId, page.count, page.offset);
    return { events, total };
  }
}
