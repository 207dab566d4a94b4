import { IsString, MaxLength } from 'class-validator';
import { RequiredParam } from './validation.js';

export class ChallengeEmailCodeDto {
  /** The id from the login's `details.challengeId`. */
  @RequiredParam() @IsString() @MaxLength(128)
  challengeId: string;
}

export class VerifyChallengeDto {
  @RequiredParam() @IsString() @MaxLength(128)
  challengeId: string;

  /** The emailed code, the authenticator code or a backup code, as the challenge's method asks. */
  @RequiredParam() @IsString() @MaxLength(64)
  code: string;
}
