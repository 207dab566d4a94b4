import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { RequiredParam } from './validation.js';

export class SendEmailCodeDto {
  @RequiredParam() @IsString() @MaxLength(254)
  emailOrUsername: string;
}

/** Rocket.Chat's pagination parameters. */
export class PaginationQueryDto {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  count?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1_000_000)
  offset?: number;
}

export class ValidateTotpDto {
  @RequiredParam() @IsString() @MaxLength(64)
  code: string;
}
