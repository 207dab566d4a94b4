import type { SecondFactorMethod } from '../../two-factor/two-factor.types.js';
import type { UserEmail } from '../../users/user-email.entity.js';
import type { User } from '../../users/user.entity.js';
import type { V1MeDto, V1UserDto } from './dto/v1-responses.dto.js';

/** The user's fields, built in one go: `/me` answers on every request of some clients, and spreads cost there. */
function userFields(user: User, emails: UserEmail[], status: V1UserDto['status']): V1UserDto {
  const dto: V1UserDto = {
    _id: user.id,
    username: user.username,
    name: user.name,
    emails: emails.map((email) => ({ address: email.address, verified: email.verifiedAt !== null })),
    active: true,
    roles: user.roles,
    status,
    createdAt: user.createdAt,
  };
  if (user.locale) dto.language = user.locale;
  return dto;
}

/**
 * The user as Rocket.Chat clients know it; never a secret (no hashes, no tokens). Every account
 * here is active (deletion removes it); presence is not tracked, so others see `offline`.
 */
export const presentUser = (user: User, emails: UserEmail[]): V1UserDto => userFields(user, emails, 'offline');

/** `/me` and login's `me`: the caller, online by definition, with the settings and services clients read. */
export function presentMe(user: User, emails: UserEmail[], methods: SecondFactorMethod[]): V1MeDto {
  return Object.assign(userFields(user, emails, 'online'), {
    email: emails.find((email) => email.verifiedAt !== null)?.address ?? emails[0]?.address,
    settings: { preferences: {} },
    services: {
      email2fa: { enabled: methods.includes('email') },
      totp: { enabled: methods.includes('totp') },
    },
  });
}
