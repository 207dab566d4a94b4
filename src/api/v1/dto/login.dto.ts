import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength, ValidateBy, type ValidationOptions } from 'class-validator';
import { V1_EXAMPLE } from '../v1-examples.js';
import { isObjectWithKeys, Optional } from './validation.js';

const IDENTIFIER_MAX = 254;
const PASSWORD_MAX = 1024;

const isIdentifier = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= IDENTIFIER_MAX;

/** `"alice"`, `{username: "alice"}` or `{email: "alice@example.com"}`, as Rocket.Chat's login takes `user`. */
export type LoginUser = string | { username: string } | { email: string };

/** A plain password, or its hex SHA-256 as `{digest, algorithm: "sha-256"}` (what Meteor clients send). */
export type LoginPassword = string | { digest: string; algorithm: 'sha-256' };

const isLoginUser = (value: unknown): value is LoginUser => {
  if (isIdentifier(value)) return true;
  if (!isObjectWithKeys(value, ['username', 'email'])) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && isIdentifier(value[keys[0]!]);
};

const isLoginPassword = (value: unknown): value is LoginPassword => {
  if (typeof value === 'string') return value.length > 0 && value.length <= PASSWORD_MAX;
  return (
    isObjectWithKeys(value, ['digest', 'algorithm']) &&
    value.algorithm === 'sha-256' &&
    typeof value.digest === 'string' &&
    /^[0-9a-fA-F]{64}$/.test(value.digest)
  );
};

const IsLoginUser = (options?: ValidationOptions) =>
  ValidateBy({ name: 'isLoginUser', validator: { validate: isLoginUser } }, options);
const IsLoginPassword = (options?: ValidationOptions) =>
  ValidateBy({ name: 'isLoginPassword', validator: { validate: isLoginPassword } }, options);

/**
 * Rocket.Chat's login body: the identifier as `user` (a string, `{username}` or `{email}`),
 * `username` or `email`, with `password`; or `{resume}` with an auth token of a live session.
 */
export class LoginDto {
  @ApiPropertyOptional({
    description: 'Username or email, or `{username}` / `{email}` (one of user, username, email is needed)',
    oneOf: [
      { type: 'string', maxLength: IDENTIFIER_MAX },
      { type: 'object', properties: { username: { type: 'string' } }, required: ['username'] },
      { type: 'object', properties: { email: { type: 'string' } }, required: ['email'] },
    ],
    example: 'alice',
  })
  @Optional()
  @IsLoginUser()
  user?: LoginUser;

  @ApiPropertyOptional({ description: 'The username', example: 'alice', maxLength: IDENTIFIER_MAX })
  @Optional()
  @IsString()
  @MaxLength(IDENTIFIER_MAX)
  username?: string;

  @ApiPropertyOptional({ description: 'The email address', example: 'alice@example.com', maxLength: IDENTIFIER_MAX })
  @Optional()
  @IsString()
  @MaxLength(IDENTIFIER_MAX)
  email?: string;

  @ApiPropertyOptional({
    description: 'The password, or `{digest: <hex SHA-256 of the password>, algorithm: "sha-256"}`',
    oneOf: [
      { type: 'string', minLength: 1, maxLength: PASSWORD_MAX },
      {
        type: 'object',
        properties: {
          digest: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
          algorithm: { type: 'string', enum: ['sha-256'] },
        },
        required: ['digest', 'algorithm'],
      },
    ],
    example: 'example-password',
  })
  @Optional()
  @IsLoginPassword()
  password?: LoginPassword;

  /** The second factor, for clients that send it in the body instead of `x-2fa-code`. */
  @ApiPropertyOptional({ description: 'The second factor, instead of the x-2fa-code header', example: '123456', maxLength: 64 })
  @Optional()
  @IsString()
  @MaxLength(64)
  code?: string;

  /** Logs in again with the authToken of a live login session (what Meteor calls a resume token). */
  @ApiPropertyOptional({
    description: 'The authToken of a live session, instead of a password',
    example: V1_EXAMPLE.authToken,
    maxLength: 256,
  })
  @Optional()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  resume?: string;
}
