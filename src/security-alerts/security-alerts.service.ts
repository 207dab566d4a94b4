import { Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock } from '../common/clock.js';
import { DomainEvents } from '../common/domain-events.js';
import type { MailTemplateName } from '../mail/mail-templates.service.js';
import { MailService } from '../mail/mail.service.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';

/**
 * Security alerts: mail to the account's owner when something about the account changes (a
 * password-only login from a new device, a new password or address, a second factor added or
 * removed, a recovery code used, someone registering with their address). Queued in the same
 * transaction as the change (never lost), delivered once it commits (never holding it up). The
 * language: the request's `?locale`, else the user's, else DEFAULT_LOCALE.
 */
@Injectable()
export class SecurityAlertsService implements OnModuleInit {
  constructor(
    private readonly events: DomainEvents,
    private readonly users: UsersService,
    private readonly mail: MailService,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.events.on('new-device-login', (event, manager) =>
      this.alert(manager, event.user, 'alert-new-login', event.locale, {
        browser: event.device.browser,
        os: event.device.os,
        ipAddress: event.client.ip,
      }),
    );
    this.events.on('password-changed', (event, manager) =>
      this.alert(manager, event.user, 'alert-password-changed', event.locale, {}),
    );
    this.events.on('two-factor-method-added', (event, manager) =>
      this.alert(manager, event.user, 'alert-two-factor-added', event.locale, { method: event.method }),
    );
    this.events.on('two-factor-method-removed', (event, manager) =>
      this.alert(manager, event.user, 'alert-two-factor-removed', event.locale, { method: event.method }),
    );
    this.events.on('recovery-code-used', (event, manager) =>
      this.alert(manager, event.user, 'alert-recovery-code-used', event.locale, { remaining: event.remaining }),
    );
    // To the address that is no longer the account's: its owner may not have made the change.
    this.events.on('email-changed', (event, manager) =>
      this.mail.send(manager, {
        to: [event.oldAddress],
        template: 'alert-email-changed',
        locale: event.locale ?? event.user.locale,
        data: { ...this.common(event.user), oldAddress: event.oldAddress, newAddress: event.newAddress },
      }),
    );
    // To the address someone typed: it has an account, which the registration's answer did not reveal.
    this.events.on('registration-attempt', (event, manager) =>
      this.mail.send(manager, {
        to: [event.address],
        template: 'alert-registration-attempt',
        locale: event.locale ?? event.user.locale,
        data: { at: this.clock.now().toISOString(), address: event.address },
      }),
    );
  }

  /** To every verified address of the user; nothing when there is none (an unverified address may not be theirs). */
  private async alert(
    manager: EntityManager,
    user: User,
    template: MailTemplateName,
    locale: string | null | undefined,
    data: Record<string, unknown>,
  ): Promise<void> {
    const to = await this.users.verifiedAddresses(user.id, manager);
    if (to.length === 0) return;
    await this.mail.send(manager, { to, template, locale: locale ?? user.locale, data: { ...this.common(user), ...data } });
  }

  private common(user: User): Record<string, unknown> {
    return { name: user.name || user.username, at: this.clock.now().toISOString() };
  }
}
