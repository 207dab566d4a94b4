import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsEmail,
  IsHexadecimal,
  IsNotEmpty,
  IsObject,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { NO_CONTROL_CHARS, Optional, RequiredParam } from './validation.js';

export class RegisterDto {
  @ApiProperty({
    description: 'Letters, digits, ".", "-" or "_" (reserved names such as admin are refused)',
    example: 'alice',
    maxLength: 254,
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(254)
  username: string;

  // Format checked by the domain (error-invalid-email); only the type and size here.
  @ApiProperty({ description: 'Gets a verification link', example: 'alice@example.com', maxLength: 254 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(254)
  email: string;

  @ApiProperty({
    description: 'The password (PASSWORD_MIN_LENGTH to 256 characters)',
    example: 'example-password',
    maxLength: 1024,
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  pass: string;

  @ApiProperty({ description: 'Display name', example: 'Alice Example', maxLength: 128 })
  @IsString()
  @MaxLength(128)
  @Matches(NO_CONTROL_CHARS)
  name: string;
}

export class SendConfirmationEmailDto {
  @ApiProperty({ description: 'The address to send a new verification link to', example: 'alice@example.com', maxLength: 254 })
  @RequiredParam()
  @IsString()
  @MaxLength(254)
  email: string;
}

export class VerifyEmailDto {
  @ApiProperty({ description: 'The token from the verification link', example: 'example-verification-token', maxLength: 128 })
  @RequiredParam()
  @IsString()
  @MaxLength(128)
  token: string;
}

export class CreateUserDto {
  @ApiProperty({ description: 'The email address', example: 'bob@example.com', maxLength: 254 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(254)
  email: string;

  @ApiProperty({ description: 'Display name', example: 'Bob Example', maxLength: 128 })
  @IsString()
  @MaxLength(128)
  @Matches(NO_CONTROL_CHARS)
  name: string;

  @ApiProperty({
    description: 'The password (PASSWORD_MIN_LENGTH to 256 characters)',
    example: 'example-password',
    maxLength: 1024,
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  password: string;

  @ApiProperty({
    description: 'Letters, digits, ".", "-" or "_" (reserved names such as admin are refused)',
    example: 'bob',
    maxLength: 254,
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(254)
  username: string;

  @ApiPropertyOptional({ description: 'Mark the email as verified (no verification link is sent)', example: true })
  @Optional()
  @IsBoolean()
  verified?: boolean;

  @ApiPropertyOptional({ type: [String], description: 'Role names (lowercase letters, digits, "-")', example: ['user'] })
  @Optional()
  @IsArray()
  @IsString({ each: true })
  @Matches(/^[a-z][a-z0-9-]{0,31}$/, { each: true })
  roles?: string[];
}

export class BasicInfoDto {
  @ApiPropertyOptional({ description: 'Display name', example: 'Alice Example', maxLength: 128 })
  @Optional()
  @IsString()
  @MaxLength(128)
  @Matches(NO_CONTROL_CHARS)
  name?: string;

  @ApiPropertyOptional({ description: 'A new username', example: 'alice', maxLength: 254 })
  @Optional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(254)
  username?: string;

  @ApiPropertyOptional({
    description: 'Takes effect once the new address is verified',
    example: 'alice.new@example.com',
    maxLength: 254,
  })
  @Optional()
  @IsEmail()
  @MaxLength(254)
  email?: string;

  /** Hex SHA-256 of the current password, as Rocket.Chat clients send it. */
  @ApiPropertyOptional({
    description: 'Hex SHA-256 of the current password; needed with newPassword',
    example: 'abcdef0123456789'.repeat(4),
    minLength: 64,
    maxLength: 64,
  })
  @Optional()
  @IsHexadecimal()
  @Length(64, 64)
  currentPassword?: string;

  @ApiPropertyOptional({
    description: 'The new password; ends the other login sessions',
    example: 'example-new-password',
    maxLength: 1024,
  })
  @Optional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  newPassword?: string;
}

export class UpdateOwnBasicInfoDto {
  @ApiProperty({ type: () => BasicInfoDto, description: 'The fields to change' })
  @IsObject()
  @ValidateNested()
  @Type(() => BasicInfoDto)
  data: BasicInfoDto;
}

export class GeneratePersonalAccessTokenDto {
  @ApiProperty({ description: 'A name for the token, unique per user', example: 'ci-bot', maxLength: 128 })
  @RequiredParam()
  @IsString()
  @MaxLength(128)
  @Matches(NO_CONTROL_CHARS)
  tokenName: string;

  @ApiPropertyOptional({ description: 'The token skips the 2FA handshake', example: false, default: false })
  @Optional()
  @IsBoolean()
  bypassTwoFactor?: boolean;
}

export class DeleteOwnAccountDto {
  /** Hex SHA-256 of the password, either case, as Rocket.Chat clients send it. */
  @ApiPropertyOptional({
    description: 'Hex SHA-256 of the password (either case); the second factor of a user without a method',
    example: 'abcdef0123456789'.repeat(4),
    minLength: 64,
    maxLength: 64,
  })
  @Optional()
  @IsHexadecimal()
  @Length(64, 64)
  password?: string;
}

export class PersonalAccessTokenNameDto {
  @ApiProperty({ description: 'The name the token was created with', example: 'ci-bot', maxLength: 128 })
  @RequiredParam()
  @IsString()
  @MaxLength(128)
  tokenName: string;
}
