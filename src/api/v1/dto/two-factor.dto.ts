import { IsString, MaxLength } from 'class-validator';
import { RequiredParam } from './validation.js';

export class SendEmailCodeDto {
  @RequiredParam() @IsString() @MaxLength(254)
  emailOrUsername: string;
}
