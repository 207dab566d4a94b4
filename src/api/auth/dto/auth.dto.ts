import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsObject, IsString, Matches, MaxLength, MinLength, ValidateNested } from 'class-validator';
import { NO_CONTROL_CHARS, Optional } from '../../shared/validation.js';

/** What the client says it is: shown in the session list and the new-device alert. */
export class SessionInfoDto {
  @ApiPropertyOptional({ description: 'The browser, as the client names it', example: 'Firefox 133', maxLength: 128 })
  @Optional()
  @IsString()
  @MaxLength(128)
  @Matches(NO_CONTROL_CHARS)
  browser?: string;

  @ApiPropertyOptional({ description: 'The operating system, as the client names it', example: 'Linux', maxLength: 128 })
  @Optional()
  @IsString()
  @MaxLength(128)
  @Matches(NO_CONTROL_CHARS)
  os?: string;
}

/** The optional `session` of the requests that open a session: the device, for the session list. */
const SessionInfoField = () =>
  applyDecorators(
    ApiPropertyOptional({ type: () => SessionInfoDto, description: 'The device, for the session list' }),
    Optional(),
    IsObject(),
    ValidateNested(),
    Type(() => SessionInfoDto),
  );

export class RegisterRequestDto {
  @ApiProperty({ description: 'The email address (gets a verification link)', example: 'alice@example.com', maxLength: 254 })
  @IsString()
  @MinLength(1)
  @MaxLength(254)
  email: string;

  @ApiProperty({
    description: 'The password (PASSWORD_MIN_LENGTH to 256 characters)',
    example: 'example-password',
    maxLength: 1024,
  })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password: string;

  @ApiProperty({ description: 'Display name', example: 'Alice Example', maxLength: 128 })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  @Matches(NO_CONTROL_CHARS)
  name: string;
}

export class LoginRequestDto {
  @ApiProperty({ description: 'The email address', example: 'alice@example.com', maxLength: 254 })
  @IsString()
  @MinLength(1)
  @MaxLength(254)
  email: string;

  @ApiProperty({ description: 'The password', example: 'example-password', maxLength: 1024 })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password: string;

  @SessionInfoField()
  session?: SessionInfoDto;
}

/** A TOTP code as Singularity sends it (a number: leading zeros lost) or as a string. */
const toTotpString = ({ value }: { value: unknown }) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 1_000_000
    ? String(value).padStart(6, '0')
    : value;

export class SecondFactorCodesDto {
  @ApiPropertyOptional({ description: 'The code mailed to the user', example: '123456', maxLength: 16 })
  @Optional()
  @IsString()
  @MaxLength(16)
  email?: string;

  @ApiPropertyOptional({
    description: 'The authenticator app code (a number, as Singularity sends it, or a string)',
    oneOf: [
      { type: 'integer', minimum: 0, maximum: 999999 },
      { type: 'string', maxLength: 16 },
    ],
    example: 123456,
  })
  @Optional()
  @Transform(toTotpString)
  @IsString()
  @MaxLength(16)
  totp?: string;
}

export class CompleteLoginDto extends SecondFactorCodesDto {
  @SessionInfoField()
  session?: SessionInfoDto;
}

export class RecoverDto {
  @ApiProperty({ description: 'One of the recovery (backup) codes shown at TOTP set-up', example: 'K7M2QX9WRT', maxLength: 64 })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  code: string;

  @SessionInfoField()
  session?: SessionInfoDto;
}

export class StepUpDto {
  @ApiPropertyOptional({ description: 'The password', example: 'example-password', maxLength: 1024 })
  @Optional()
  @IsString()
  @MaxLength(1024)
  password?: string;
}

export class PreferredMethodDto {
  @ApiProperty({ description: 'The method asked for first', enum: ['email', 'totp'], example: 'totp' })
  @IsIn(['email', 'totp'])
  method: 'email' | 'totp';
}

export class EnableEmailDto {
  @ApiProperty({ description: 'The code mailed by 2fa/email/send', example: '123456', maxLength: 16 })
  @IsString()
  @MinLength(1)
  @MaxLength(16)
  code: string;
}

export class TotpSetupDto {
  @ApiProperty({ description: 'The set-up token from GET 2fa/totp/setup', example: 'v1.ExampleSetupToken', maxLength: 512 })
  @IsString()
  @MinLength(1)
  @MaxLength(512)
  token: string;

  @ApiProperty({
    description: 'A code from the authenticator app (a number or a string)',
    oneOf: [
      { type: 'integer', minimum: 0, maximum: 999999 },
      { type: 'string', maxLength: 16 },
    ],
    example: 123456,
  })
  @Transform(toTotpString)
  @IsString()
  @MaxLength(16)
  code: string;
}
