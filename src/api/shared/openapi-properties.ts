import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';

/**
 * A property whose value never varies (`success: true`, `status: "error"`): a one-value enum, so
 * the schema says what clients test for, and an answer with another value fails validation.
 */
export const ApiConstant = (value: boolean | string, description?: string) =>
  ApiProperty({
    type: typeof value === 'boolean' ? 'boolean' : 'string',
    enum: [value],
    example: value,
    ...(description ? { description } : {}),
  } as ApiPropertyOptions);

/** An instant as JSON carries it (a Date serialises to an ISO 8601 string). */
export const ApiDateTime = (options: { description: string; example: string; nullable?: boolean; required?: boolean }) =>
  (options.required === false ? ApiPropertyOptional : ApiProperty)({
    type: String,
    format: 'date-time',
    description: options.description,
    example: options.example,
    ...(options.nullable ? { nullable: true } : {}),
  });
