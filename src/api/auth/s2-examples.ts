/**
 * The example values of surface 2's documentation, shared by the DTO classes and the controllers'
 * decorators. Every value is clearly fake: a JWT is only the placeholder `eyJhbGciOi...` (a
 * header's first bytes, no payload, no signature).
 */
export const S2_EXAMPLE_JWT = 'eyJhbGciOi...';

export const S2_EXAMPLE_PRINCIPAL = {
  id: 'ExampleUserId0001',
  name: 'Alice Example',
  email: 'alice@example.com',
  identityProviders: ['password'],
  roles: ['user'],
  emailVerified: true,
  lastActive: '2026-01-01T12:00:00.000Z',
  twoFactorAuthEnabled: true,
  preferredTwoFactorMethod: 'email' as const,
  twoFactorMethods: ['email' as const],
  createdAt: '2025-12-01T09:00:00.000Z',
};

export const S2_EXAMPLE_SESSION_ID = 'ExampleSession001';
