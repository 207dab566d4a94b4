import type { SecondFactorMethod } from '../../two-factor/two-factor.types.js';
import type { UserEmail } from '../../users/user-email.entity.js';
import type { User } from '../../users/user.entity.js';

/** The user as Rocket.Chat clients know it; never a secret (no hashes, no tokens). */
export const presentUser = (user: User, emails: UserEmail[]) => ({
  _id: user.id,
  username: user.username,
  name: user.name,
  emails: emails.map((email) => ({ address: email.address, verified: email.verifiedAt !== null })),
  roles: user.roles,
  ...(user.locale ? { language: user.locale } : {}),
  createdAt: user.createdAt,
});

export const presentMe = (user: User, emails: UserEmail[], methods: SecondFactorMethod[]) => ({
  ...presentUser(user, emails),
  services: {
    email2fa: { enabled: methods.includes('email') },
    totp: { enabled: methods.includes('totp') },
  },
});
