import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

/** Rocket.Chat accepts the identifier as `user`, `username` or `email`. */
export class LoginDto {
  @ApiPropertyOptional({
    description: 'Username or email (one of user, username, email is needed)',
    example: 'alice',
    maxLength: 254,
  })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  user?: string;

  @ApiPropertyOptional({ description: 'The username', example: 'alice', maxLength: 254 })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  username?: string;

  @ApiPropertyOptional({ description: 'The email address', example: 'alice@example.com', maxLength: 254 })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  email?: string;

  @ApiProperty({ description: 'The password', example: 'example-password', minLength: 1, maxLength: 1024 })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password: string;

  /** The second factor, for clients that send it in the body instead of `x-2fa-code`. */
  @ApiPropertyOptional({ description: 'The second factor, instead of the x-2fa-code header', example: '123456', maxLength: 64 })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  code?: string;
}
