/**
 * The example values of surface 1's documentation, apart from the decorators so DTO classes and
 * the OpenAPI helpers can both use them without importing each other. Every value is clearly
 * fake: no real-looking token, secret or code.
 */
export const V1_EXAMPLE = {
  userId: 'ExampleUserId0001',
  authToken: 'example-auth-token-not-a-real-one',
  /** Challenge ids are 64 hex characters; this one is an obvious placeholder. */
  challengeId: '0123456789abcdef'.repeat(4),
  email: 'alice@example.com',
  totpSecret: 'JBSWY3DPEHPK3PXP',
  backupCodes: [
    'ABCDE23456',
    'FGHJK23456',
    'MNPQR23456',
    'STUVW23456',
    'XYZAB23456',
    'ABCDE34567',
    'FGHJK34567',
    'MNPQR34567',
    'STUVW34567',
    'XYZAB34567',
  ],
} as const;

export const V1_EXAMPLE_USER = {
  _id: V1_EXAMPLE.userId,
  username: 'alice',
  name: 'Alice Example',
  emails: [{ address: V1_EXAMPLE.email, verified: true }],
  active: true,
  roles: ['user'],
  status: 'offline',
  createdAt: '2025-01-01T12:00:00.000Z',
};

export const V1_EXAMPLE_ME = {
  ...V1_EXAMPLE_USER,
  status: 'online',
  email: V1_EXAMPLE.email,
  settings: { preferences: {} },
  services: { email2fa: { enabled: true }, totp: { enabled: false } },
};

export const V1_EXAMPLE_HANDSHAKE_DETAILS = {
  method: 'email',
  codeGenerated: true,
  emailOrUsername: V1_EXAMPLE.email,
  availableMethods: ['email'],
};
