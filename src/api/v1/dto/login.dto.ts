import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

/** Rocket.Chat accepts the identifier as `user`, `username` or `email`. */
export class LoginDto {
  @IsOptional() @IsString() @MaxLength(254)
  user?: string;

  @IsOptional() @IsString() @MaxLength(254)
  username?: string;

  @IsOptional() @IsString() @MaxLength(254)
  email?: string;

  @IsString() @MinLength(1) @MaxLength(1024)
  password: string;

  /** The second factor, for clients that send it in the body instead of `x-2fa-code`. */
  @IsOptional() @IsString() @MaxLength(64)
  code?: string;
}
