import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { ApiDateTime } from '../../shared/openapi-properties.js';

/** Singularity's ErrorResponse: every failure of surface 2 (a 304 carries its code in X-Error-Code instead). */
@ApiSchema({ name: 'S2Error', description: "Surface 2's error body (Singularity's ErrorResponse)" })
export class S2ErrorResponseDto {
  @ApiDateTime({ description: 'When it failed', example: '2026-01-01T12:00:00.000Z' })
  timestamp: string;

  @ApiProperty({ type: 'integer', description: 'The HTTP status', example: 401 })
  status: number;

  @ApiProperty({ description: 'The error code (seed 001)', example: 'ACCESS_TOKEN_EXPIRED' })
  code: string;

  @ApiProperty({ description: 'A short name of the failure', example: 'Expired' })
  error: string;

  @ApiProperty({ example: 'Access token is expired.' })
  message: string;

  @ApiProperty({ description: 'The path, without its query', example: '/api/auth/step-up' })
  path: string;
}
