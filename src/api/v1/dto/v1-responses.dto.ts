import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { AuditEventType, AuditOutcome } from '../../../audit/audit-event.entity.js';
import { ApiConstant, ApiDateTime } from '../../shared/openapi-properties.js';
import { V1_EXAMPLE, V1_EXAMPLE_USER } from '../v1-examples.js';

/*
 * Surface 1's success bodies, as Rocket.Chat clients read them. The presenters and handlers are
 * typed with these classes, so a field the code sends is a field the document describes.
 */

/** Every event type, as a record so a type added to AuditEventType without being listed here fails to compile. */
const AUDIT_EVENT_TYPES = Object.keys({
  method_enabled: true,
  method_disabled: true,
  backup_codes_regenerated: true,
  code_sent: true,
  second_factor_verified: true,
  second_factor_failed: true,
  lockout: true,
  lockout_cleared: true,
  challenge_created: true,
  challenge_completed: true,
  challenge_failed: true,
} satisfies Record<AuditEventType, true>);
const AUDIT_OUTCOMES = Object.keys({ success: true, failure: true } satisfies Record<AuditOutcome, true>);

/** `{success: true}`, the whole answer of many routes and the start of the others. */
export class V1SuccessResponseDto {
  @ApiConstant(true)
  success: true;
}

export class V1EmailDto {
  @ApiProperty({ example: V1_EXAMPLE.email })
  address: string;

  @ApiProperty({ description: 'The address was confirmed through its verification link', example: true })
  verified: boolean;
}

/** The user as Rocket.Chat clients know them; never a secret. */
export class V1UserDto {
  @ApiProperty({ description: 'The user id (X-User-Id)', example: V1_EXAMPLE.userId })
  _id: string;

  @ApiProperty({ example: V1_EXAMPLE_USER.username })
  username: string;

  @ApiProperty({ description: 'Display name (may be empty)', example: V1_EXAMPLE_USER.name })
  name: string;

  @ApiProperty({ type: () => [V1EmailDto] })
  emails: V1EmailDto[];

  @ApiConstant(true, 'Always true: deleting an account removes it')
  active: true;

  @ApiProperty({ type: [String], example: ['user'] })
  roles: string[];

  @ApiProperty({
    enum: ['online', 'offline'],
    description: 'Presence is not tracked: `offline` for others, `online` for the caller',
    example: 'offline',
  })
  status: 'online' | 'offline';

  @ApiPropertyOptional({ description: 'The language of the emails, when the user chose one', example: 'pt-BR' })
  language?: string;

  @ApiDateTime({ description: 'When the account was created', example: V1_EXAMPLE_USER.createdAt })
  createdAt: Date;
}

export class V1MethodStateDto {
  @ApiProperty({ example: true })
  enabled: boolean;
}

export class V1ServicesDto {
  @ApiProperty({ type: () => V1MethodStateDto, description: 'Email 2FA' })
  email2fa: V1MethodStateDto;

  @ApiProperty({ type: () => V1MethodStateDto, description: 'Authenticator app (TOTP)' })
  totp: V1MethodStateDto;
}

export class V1SettingsDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: false,
    description: 'Always empty: kept for clients that read it',
    example: {},
  })
  preferences: Record<string, never>;
}

/** The caller: the user, with the settings and second-factor services clients read. */
export class V1MeDto extends V1UserDto {
  @ApiPropertyOptional({
    description: 'The first verified address, else the first address; absent without any',
    example: V1_EXAMPLE.email,
  })
  email?: string;

  @ApiProperty({ type: () => V1SettingsDto })
  settings: V1SettingsDto;

  @ApiProperty({ type: () => V1ServicesDto, description: 'Which second factors are on' })
  services: V1ServicesDto;
}

export class V1MeResponseDto extends V1MeDto {
  @ApiConstant(true)
  success: true;
}

export class V1LoginDataDto {
  @ApiProperty({ description: 'Send as X-User-Id', example: V1_EXAMPLE.userId })
  userId: string;

  @ApiProperty({ description: 'Send as X-Auth-Token', example: V1_EXAMPLE.authToken })
  authToken: string;

  @ApiProperty({ type: () => V1MeDto })
  me: V1MeDto;
}

/** Login answers in Rocket.Chat's REST `{status}` shape. */
export class V1LoginResponseDto {
  @ApiConstant('success')
  status: 'success';

  @ApiProperty({ type: () => V1LoginDataDto })
  data: V1LoginDataDto;
}

export class V1MessageDto {
  @ApiProperty({ example: "You've been logged out!" })
  message: string;
}

export class V1LogoutResponseDto {
  @ApiConstant('success')
  status: 'success';

  @ApiProperty({ type: () => V1MessageDto })
  data: V1MessageDto;
}

export class V1UserResponseDto extends V1SuccessResponseDto {
  @ApiProperty({ type: () => V1UserDto })
  user: V1UserDto;
}

export class V1PersonalAccessTokenResponseDto extends V1SuccessResponseDto {
  @ApiProperty({ description: 'The token, shown this once; send it as X-Auth-Token', example: 'example-personal-access-token' })
  token: string;
}

export class V1PersonalAccessTokenDto {
  @ApiProperty({ example: 'ci-bot' })
  name: string;

  @ApiDateTime({ description: 'When the token was created', example: '2026-01-01T00:00:00.000Z' })
  createdAt: Date;

  @ApiProperty({ type: String, nullable: true, description: 'The last characters of the token', example: 'Xy3_9a' })
  lastTokenPart: string | null;

  @ApiDateTime({ description: 'When the token was last used; null: never', example: '2026-01-02T08:30:00.000Z', nullable: true })
  lastUsedAt: Date | null;

  @ApiProperty({ description: 'The token skips the 2FA handshake', example: false })
  bypassTwoFactor: boolean;
}

export class V1PersonalAccessTokensResponseDto extends V1SuccessResponseDto {
  @ApiProperty({ type: () => [V1PersonalAccessTokenDto] })
  tokens: V1PersonalAccessTokenDto[];
}

export class V1TotpSetupResponseDto extends V1SuccessResponseDto {
  @ApiProperty({ description: 'The base32 secret, for manual entry', example: V1_EXAMPLE.totpSecret })
  secret: string;

  @ApiProperty({
    description: 'The otpauth:// URL authenticator apps read',
    example: `otpauth://totp/Two-Factor:alice?secret=${V1_EXAMPLE.totpSecret}&issuer=Two-Factor`,
  })
  url: string;

  @ApiProperty({ description: 'The URL as a QR code (PNG data URL)', example: 'data:image/png;base64,iVBORw0KGgo...' })
  qrCode: string;
}

export class V1BackupCodesResponseDto extends V1SuccessResponseDto {
  @ApiProperty({ type: [String], description: 'The backup codes, shown this once', example: V1_EXAMPLE.backupCodes })
  backupCodes: string[];
}

export class V1BackupCodesRemainingResponseDto extends V1SuccessResponseDto {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Unused backup codes', example: 9 })
  remaining: number;
}

export class V1AuditEventDto {
  @ApiProperty({ example: '42' })
  _id: string;

  @ApiProperty({ enum: AUDIT_EVENT_TYPES, example: 'second_factor_verified' })
  type: AuditEventType;

  @ApiProperty({ type: String, nullable: true, description: 'The method involved, if any', example: 'email' })
  method: string | null;

  @ApiProperty({ enum: AUDIT_OUTCOMES, example: 'success' })
  outcome: AuditOutcome;

  @ApiProperty({ description: 'The client address (may be empty)', example: '192.0.2.10' })
  ip: string;

  @ApiProperty({ description: 'The client (may be empty)', example: 'Example/1.0' })
  userAgent: string;

  @ApiDateTime({ description: 'When it happened', example: '2025-01-01T12:00:00.000Z' })
  ts: string;
}

export class V1AuditEventsResponseDto extends V1SuccessResponseDto {
  @ApiProperty({ type: () => [V1AuditEventDto] })
  events: V1AuditEventDto[];

  @ApiProperty({ type: 'integer', description: 'Events in this page', example: 1 })
  count: number;

  @ApiProperty({ type: 'integer', description: 'Events skipped', example: 0 })
  offset: number;

  @ApiProperty({ type: 'integer', description: 'Events in all', example: 1 })
  total: number;
}

export class V1SendEmailCodeResponseDto extends V1SuccessResponseDto {
  @ApiPropertyOptional({
    type: [String],
    description: 'Only with COMPAT_SEND_EMAIL_CODE_REVEALS_USER=true: where the code went',
    example: [V1_EXAMPLE.email],
  })
  emails?: string[];
}

export class V1VerifyChallengeResponseDto extends V1SuccessResponseDto {
  @ApiProperty({ description: 'Send as X-User-Id', example: V1_EXAMPLE.userId })
  userId: string;

  @ApiProperty({ description: 'Send as X-Auth-Token', example: V1_EXAMPLE.authToken })
  loginToken: string;
}
