import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { V1_EXAMPLE } from '../v1-examples.js';
import { RequiredParam } from './validation.js';

export class ChallengeEmailCodeDto {
  /** The id from the login's `details.challengeId`. */
  @ApiProperty({ description: "The login's `details.challengeId`", example: V1_EXAMPLE.challengeId, maxLength: 128 })
  @RequiredParam()
  @IsString()
  @MaxLength(128)
  challengeId: string;
}

export class VerifyChallengeDto {
  @ApiProperty({ description: "The login's `details.challengeId`", example: V1_EXAMPLE.challengeId, maxLength: 128 })
  @RequiredParam()
  @IsString()
  @MaxLength(128)
  challengeId: string;

  /** The emailed code, the authenticator code or a backup code, as the challenge's method asks. */
  @ApiProperty({
    description: "The emailed code, the authenticator code or a backup code, as the challenge's method asks",
    example: '123456',
    maxLength: 64,
  })
  @RequiredParam()
  @IsString()
  @MaxLength(64)
  code: string;
}
