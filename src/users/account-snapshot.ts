import { UserEmail } from './user-email.entity.js';
import type { User } from './user.entity.js';

/**
 * A user's addresses (primary first) and the second-factor methods switched on, as
 * `users.account_snapshot` holds them (kept by triggers, migrations/1764600000000-account-snapshot.ts).
 * Read with the user's row, they cost no round trip of their own.
 */
export interface AccountSnapshot {
  emails: UserEmail[];
  enabledMethods: string[];
}

/** The user and their snapshot, read in one statement. */
export interface UserAccount {
  user: User;
  snapshot: AccountSnapshot;
}

/** The column as PostgreSQL returns it: json, timestamps as ISO 8601 text. */
export interface StoredAccountSnapshot {
  enabled_methods: string[];
  emails: Array<{ id: number | string; address: string; verified_at: string | null; is_primary: boolean }>;
}

export function accountSnapshotFrom(userId: string, stored: StoredAccountSnapshot): AccountSnapshot {
  const emails = stored.emails.map((email) =>
    Object.assign(new UserEmail(), {
      id: String(email.id),
      userId,
      address: email.address,
      verifiedAt: email.verified_at === null ? null : new Date(email.verified_at),
      isPrimary: email.is_primary,
    }),
  );
  return { emails, enabledMethods: stored.enabled_methods };
}

/** Where email codes go, primary first: the order of UsersRepository.verifiedAddresses. */
export const verifiedAddressesOf = (snapshot: AccountSnapshot): string[] =>
  snapshot.emails.filter((email) => email.verifiedAt !== null).map((email) => email.address);
