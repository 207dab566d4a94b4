import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { Optional, RequiredParam } from './validation.js';

export class SendEmailCodeDto {
  @ApiProperty({ description: 'Username or email of the user who needs a code', example: 'alice@example.com', maxLength: 254 })
  @RequiredParam()
  @IsString()
  @MaxLength(254)
  emailOrUsername: string;
}

export class UnlockUserDto {
  @ApiProperty({ description: 'The id of the user whose second factor is locked', example: 'rbAXPnMktTFbNpwtJ' })
  @RequiredParam()
  @IsString()
  @MaxLength(32)
  userId: string;
}

/** Rocket.Chat's pagination parameters. */
export class PaginationQueryDto {
  @ApiPropertyOptional({ type: 'integer', description: 'Page size', example: 50, default: 50, minimum: 1, maximum: 100 })
  @Optional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  count?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'Items to skip', example: 0, default: 0, minimum: 0, maximum: 1_000_000 })
  @Optional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  offset?: number;
}

export class ValidateTotpDto {
  @ApiProperty({ description: 'The current code from the authenticator app', example: '123456', maxLength: 64 })
  @RequiredParam()
  @IsString()
  @MaxLength(64)
  code: string;
}
