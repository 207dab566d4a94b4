import { describe, expect, it } from 'vitest';
import { accountSnapshotFrom, verifiedAddressesOf } from './account-snapshot.js';
import { UserEmail } from './user-email.entity.js';

describe('the account snapshot', () => {
  const stored = {
    enabled_methods: ['email', 'totp'],
    // As account_snapshot_of() orders them: primary first, then by id.
    emails: [
      { id: 7, address: 'primary@example.com', verified_at: '2026-11-28T10:00:00.123+00:00', is_primary: true },
      { id: 3, address: 'pending@example.com', verified_at: null, is_primary: false },
      { id: 9, address: 'second@example.com', verified_at: '2026-11-27T08:30:00+00:00', is_primary: false },
    ],
  };

  it('becomes entities of the user: ids as text, timestamps as dates, the order kept', () => {
    const snapshot = accountSnapshotFrom('user-1', stored);
    expect(snapshot.enabledMethods).toEqual(['email', 'totp']);
    expect(snapshot.emails.every((email) => email instanceof UserEmail)).toBe(true);
    expect(
      snapshot.emails.map(({ id, userId, address, verifiedAt, isPrimary }) => ({ id, userId, address, verifiedAt, isPrimary })),
    ).toEqual([
      {
        id: '7',
        userId: 'user-1',
        address: 'primary@example.com',
        verifiedAt: new Date('2026-11-28T10:00:00.123Z'),
        isPrimary: true,
      },
      { id: '3', userId: 'user-1', address: 'pending@example.com', verifiedAt: null, isPrimary: false },
      {
        id: '9',
        userId: 'user-1',
        address: 'second@example.com',
        verifiedAt: new Date('2026-11-27T08:30:00Z'),
        isPrimary: false,
      },
    ]);
  });

  it('gives the verified addresses in its own order, primary first, unverified ones left out', () => {
    expect(verifiedAddressesOf(accountSnapshotFrom('user-1', stored))).toEqual(['primary@example.com', 'second@example.com']);
    expect(verifiedAddressesOf(accountSnapshotFrom('user-1', { enabled_methods: [], emails: [] }))).toEqual([]);
  });
});
