import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches, MaxLength } from 'class-validator';
import { Optional } from './validation.js';

/**
 * A BCP 47-like language tag: a 2–3 letter language and up to two subtags (`de`, `pt-BR`,
 * `es-419`, `zh-Hant-TW`). At most 16 characters (the size of `users.locale`).
 */
export const LOCALE_PATTERN = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/;

/** `?locale=`: the language of the user's emails. Unknown languages fall back to DEFAULT_LOCALE when mail is sent. */
export class LocaleQueryDto {
  @ApiPropertyOptional({
    description:
      'Language of the emails (BCP 47 tag). Templates exist for en, de, fr, es, pt-BR; another region of one of these languages uses it (pt → pt-BR, de-AT → de), anything else DEFAULT_LOCALE.',
    example: 'pt-BR',
    pattern: LOCALE_PATTERN.source,
    maxLength: 16,
  })
  @Optional()
  @IsString()
  @MaxLength(16)
  @Matches(LOCALE_PATTERN)
  locale?: string;
}
