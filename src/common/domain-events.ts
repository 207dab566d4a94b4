import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { User } from '../users/user.entity.js';

/** The client behind a change, as far as the request tells. */
export interface EventClient {
  ip: string;
  userAgent: string;
}

/** Things that happened to an account that someone else may need to react to (a security alert, say). */
export type DomainEvent =
  | { type: 'two-factor-method-added'; user: User; method: 'email' | 'totp'; client: EventClient; locale?: string | null }
  | { type: 'two-factor-method-removed'; user: User; method: 'email' | 'totp'; client: EventClient; locale?: string | null }
  | { type: 'recovery-code-used'; user: User; remaining: number; client: EventClient; locale?: string | null }
  | { type: 'password-changed'; user: User; client: EventClient; locale?: string | null }
  | { type: 'email-changed'; user: User; oldAddress: string; newAddress: string; locale?: string | null }
  | {
      type: 'new-device-login';
      user: User;
      client: EventClient;
      device: { browser: string; os: string };
      locale?: string | null;
    }
  | { type: 'registration-attempt'; user: User; address: string; locale?: string | null };

export type DomainEventType = DomainEvent['type'];
type Handler<T extends DomainEventType> = (event: Extract<DomainEvent, { type: T }>, manager: EntityManager) => Promise<void>;

/**
 * In-process domain events. A layer announces what happened without knowing who reacts, so a
 * reaction that belongs to another layer (a security alert mail for a password change, say) does
 * not need an upward import. Handlers run inside the publisher's transaction: what they write (an
 * outbox row) commits or rolls back with the change itself.
 */
@Injectable()
export class DomainEvents {
  private readonly handlers = new Map<DomainEventType, Array<Handler<DomainEventType>>>();

  on<T extends DomainEventType>(type: T, handler: Handler<T>): void {
    const list = this.handlers.get(type) ?? [];
    list.push(handler as unknown as Handler<DomainEventType>);
    this.handlers.set(type, list);
  }

  async publish(event: DomainEvent, manager: EntityManager): Promise<void> {
    for (const handler of this.handlers.get(event.type) ?? []) await handler(event as never, manager);
  }
}
