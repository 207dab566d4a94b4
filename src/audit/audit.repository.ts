import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditEvent } from './audit-event.entity.js';

/** Plain SQL: several events are written per login, and TypeORM's insert builder cost more than the statement. */
const INSERT_EVENT = `INSERT INTO audit_events (user_id, type, method, outcome, ip, user_agent, at) VALUES ($1, $2, $3, $4, $5, $6, $7)`;

/** The `audit_events` table. */
@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(db: EntityManager, event: Omit<AuditEvent, 'id'>): Promise<void> {
    await db.query(INSERT_EVENT, [event.userId, event.type, event.method, event.outcome, event.ip, event.userAgent, event.at]);
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
