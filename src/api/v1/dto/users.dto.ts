import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsEmail,
  IsHexadecimal,
  IsNotEmpty,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { NO_CONTROL_CHARS, RequiredParam } from './validation.js';

export class RegisterDto {
  @IsString() @IsNotEmpty() @MaxLength(64)
  username: string;

  // Format checked by the domain (error-invalid-email); only the type and size here.
  @IsString() @IsNotEmpty() @MaxLength(254)
  email: string;

  @IsString() @IsNotEmpty() @MaxLength(1024)
  pass: string;

  @IsString() @MaxLength(128) @Matches(NO_CONTROL_CHARS)
  name: string;
}

export class SendConfirmationEmailDto {
  @RequiredParam() @IsString() @MaxLength(254)
  email: string;
}

export class VerifyEmailDto {
  @RequiredParam() @IsString() @MaxLength(128)
  token: string;
}

export class CreateUserDto {
  @IsString() @IsNotEmpty() @MaxLength(254)
  email: string;

  @IsString() @MaxLength(128) @Matches(NO_CONTROL_CHARS)
  name: string;

  @IsString() @IsNotEmpty() @MaxLength(1024)
  password: string;

  @IsString() @IsNotEmpty() @MaxLength(64)
  username: string;

  @IsOptional() @IsBoolean()
  verified?: boolean;

  @IsOptional() @IsArray() @IsString({ each: true }) @Matches(/^[a-z][a-z0-9-]{0,31}$/, { each: true })
  roles?: string[];
}

export class BasicInfoDto {
  @IsOptional() @IsString() @MaxLength(128) @Matches(NO_CONTROL_CHARS)
  name?: string;

  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(64)
  username?: string;

  @IsOptional() @IsEmail() @MaxLength(254)
  email?: string;

  /** Hex SHA-256 of the current password, as Rocket.Chat clients send it. */
  @IsOptional() @IsHexadecimal() @Length(64, 64)
  currentPassword?: string;

  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(1024)
  newPassword?: string;
}

export class UpdateOwnBasicInfoDto {
  @ValidateNested() @Type(() => BasicInfoDto) @IsNotEmpty()
  data: BasicInfoDto;
}

export class GeneratePersonalAccessTokenDto {
  @RequiredParam() @IsString() @MaxLength(128) @Matches(NO_CONTROL_CHARS)
  tokenName: string;

  @IsOptional() @IsBoolean()
  bypassTwoFactor?: boolean;
}
