import { ApiProperty } from '@nestjs/swagger';
import { ENABLEABLE_METHODS, type EnableableMethod } from '../../../two-factor/two-factor.types.js';
import { ApiConstant, ApiDateTime } from '../../shared/openapi-properties.js';
import { S2_EXAMPLE_JWT, S2_EXAMPLE_PRINCIPAL, S2_EXAMPLE_SESSION_ID } from '../s2-examples.js';

/*
 * Surface 2's bodies, in Singularity's terms (its PrincipalResponse, LoginResponse, ErrorResponse…).
 * The presenters and handlers are typed with these classes, so a field the code sends is a field
 * the document describes.
 */

/** The methods a user turns on, inline (no shared enum component: each field says what its null means). */
const METHODS = { enum: [...ENABLEABLE_METHODS] };
/** A method or null: OpenAPI 3.0 lists null among a nullable enum's values, or validators refuse it. */
const METHOD_OR_NULL = { type: String, enum: [...ENABLEABLE_METHODS, null], nullable: true };

export class S2SuccessResponseDto {
  @ApiConstant(true)
  success: true;
}

/** Singularity's PrincipalResponse: the user as its clients know them; never a secret. */
export class S2PrincipalResponseDto {
  @ApiProperty({ example: S2_EXAMPLE_PRINCIPAL.id })
  id: string;

  @ApiProperty({ description: 'Display name', example: S2_EXAMPLE_PRINCIPAL.name })
  name: string;

  @ApiProperty({ description: 'The primary address', example: S2_EXAMPLE_PRINCIPAL.email })
  email: string;

  @ApiProperty({
    enum: ['password'],
    isArray: true,
    description: 'How the user can log in (empty: no password)',
    example: S2_EXAMPLE_PRINCIPAL.identityProviders,
  })
  identityProviders: string[];

  @ApiProperty({ type: [String], example: S2_EXAMPLE_PRINCIPAL.roles })
  roles: string[];

  @ApiProperty({ description: 'The primary address is verified', example: true })
  emailVerified: boolean;

  @ApiDateTime({ description: 'Now (this service does not track activity)', example: S2_EXAMPLE_PRINCIPAL.lastActive })
  lastActive: string;

  @ApiProperty({ description: 'At least one second factor is on', example: true })
  twoFactorAuthEnabled: boolean;

  @ApiProperty({
    ...METHOD_OR_NULL,
    description: 'The method asked for first; null without one',
    example: S2_EXAMPLE_PRINCIPAL.preferredTwoFactorMethod,
  })
  preferredTwoFactorMethod: EnableableMethod | null;

  @ApiProperty({ ...METHODS, isArray: true, description: 'The enabled methods', example: S2_EXAMPLE_PRINCIPAL.twoFactorMethods })
  twoFactorMethods: EnableableMethod[];

  @ApiDateTime({ description: 'When the account was created', example: S2_EXAMPLE_PRINCIPAL.createdAt })
  createdAt: string;
}

/** The second-factor fields login and step-up share: what a pending attempt is finished with. */
class S2SecondFactorPendingDto {
  @ApiProperty({ description: 'A second factor is needed: finish with the two-factor token', example: false })
  twoFactorRequired: boolean;

  @ApiProperty({
    ...METHODS,
    isArray: true,
    nullable: true,
    description: "With twoFactorRequired: the user's methods; else null",
    example: null,
  })
  twoFactorMethods: EnableableMethod[] | null;

  @ApiProperty({
    ...METHOD_OR_NULL,
    description: 'With twoFactorRequired: the method asked for first; else null',
    example: null,
  })
  preferredTwoFactorMethod: EnableableMethod | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'With twoFactorRequired: the two-factor token (also set as a cookie); else null',
    example: null,
  })
  twoFactorAuthenticationToken: string | null;
}

/** Singularity's LoginResponse: every field present, the ones that do not apply null. */
export class S2LoginResponseDto extends S2SecondFactorPendingDto {
  @ApiProperty({ type: () => S2PrincipalResponseDto })
  user: S2PrincipalResponseDto;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The access token (also set as a cookie); null while a second factor is pending',
    example: S2_EXAMPLE_JWT,
  })
  accessToken: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The refresh token (also set as a cookie); null while a second factor is pending',
    example: S2_EXAMPLE_JWT,
  })
  refreshToken: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: "Singularity's geolocation of the client: always null (addresses are not looked up)",
    example: null,
  })
  location: Record<string, unknown> | null;
}

export class S2StepUpResponseDto extends S2SecondFactorPendingDto {
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The step-up token (also set as a cookie), bound to this session; null while a second factor is pending',
    example: S2_EXAMPLE_JWT,
  })
  stepUpToken: string | null;
}

/** A login finished with a recovery code: a session and a step-up at once. */
export class S2RecoverResponseDto {
  @ApiProperty({ type: () => S2PrincipalResponseDto })
  user: S2PrincipalResponseDto;

  @ApiProperty({ description: 'The access token (also set as a cookie)', example: S2_EXAMPLE_JWT })
  accessToken: string;

  @ApiProperty({ description: 'The refresh token (also set as a cookie)', example: S2_EXAMPLE_JWT })
  refreshToken: string;

  @ApiProperty({ description: 'The step-up token (also set as a cookie)', example: S2_EXAMPLE_JWT })
  stepUpToken: string;
}

export class S2RefreshResponseDto {
  @ApiProperty({ type: () => S2PrincipalResponseDto })
  principal: S2PrincipalResponseDto;

  @ApiProperty({ description: 'The new access token (also set as a cookie)', example: S2_EXAMPLE_JWT })
  accessToken: string;

  @ApiProperty({
    description: 'The new refresh token (also set as a cookie); the one presented is used up',
    example: S2_EXAMPLE_JWT,
  })
  refreshToken: string;
}

export class S2StatusResponseDto {
  @ApiProperty({ description: 'A valid access token was presented', example: true })
  authenticated: boolean;

  @ApiProperty({ description: "A valid step-up token of the access token's session was presented", example: false })
  stepUp: boolean;

  @ApiProperty({
    type: Boolean,
    nullable: true,
    description: 'The primary address is verified; null: not authenticated',
    example: true,
  })
  emailVerified: boolean | null;

  @ApiProperty({ description: 'A valid two-factor token was presented (an attempt is pending)', example: false })
  twoFactorRequired: boolean;

  @ApiProperty({ ...METHOD_OR_NULL, description: 'null: not authenticated', example: 'email' })
  preferredTwoFactorMethod: EnableableMethod | null;

  @ApiProperty({ ...METHODS, isArray: true, nullable: true, description: 'null: not authenticated', example: ['email'] })
  twoFactorMethods: EnableableMethod[] | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: "The access token's session; null: not authenticated",
    example: S2_EXAMPLE_SESSION_ID,
  })
  sessionId: string | null;
}

export class S2EmailCodeSentResponseDto {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Seconds before another code may be mailed', example: 60 })
  cooldown: number;
}

export class S2EmailCooldownResponseDto {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Seconds before another code may be mailed', example: 42 })
  remaining: number;
}

export class S2TotpSetupResponseDto {
  @ApiProperty({ description: 'The base32 secret, for manual entry', example: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' })
  secret: string;

  @ApiProperty({
    description: 'The otpauth:// URL authenticator apps read',
    example: 'otpauth://totp/Two-Factor:alice?secret=...',
  })
  totpAuthUrl: string;

  @ApiProperty({ type: [String], description: 'The recovery codes; they work once TOTP is on', example: ['K7M2QX9WRT'] })
  recoveryCodes: string[];

  @ApiProperty({ description: 'The set-up token for POST 2fa/totp/setup', example: 'v1...' })
  token: string;
}

export class S2SessionResponseDto {
  @ApiProperty({ description: 'The session id (DELETE /api/users/me/sessions/{id})', example: S2_EXAMPLE_SESSION_ID })
  id: string;

  @ApiProperty({ type: String, nullable: true, description: 'The browser the client named at login', example: 'Firefox 133' })
  browser: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The operating system the client named at login', example: 'Linux' })
  os: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The client address at login', example: '192.0.2.10' })
  ipAddress: string | null;

  @ApiDateTime({ description: 'When the session was last used', example: '2026-01-01T12:00:00.000Z' })
  lastActive: string;
}
