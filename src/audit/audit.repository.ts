import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditEvent } from './audit-event.entity.js';

/** The `audit_events` table. */
@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(db: EntityManager, event: Omit<AuditEvent, 'id'>): Promise<void> {
    await db.insert(AuditEvent, event);
  }

  /** The user's events, newest first, and how many there are. */
  page(userId: string, count: number, offset: number): Promise<[AuditEvent[], number]> {
    return this.dataSource.getRepository(AuditEvent).findAndCount({
      where: { userId },
      order: { at: 'DESC', id: 'DESC' },
      take: count,
      skip: offset,
    });
  }
}
