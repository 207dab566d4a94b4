import { ApiBadRequestResponse, type SchemaObject } from '@nestjs/swagger';
import { V1ErrorResponseDto } from '../api/v1/dto/v1-error-responses.dto.js';

/** The body of GET /health, up or down (documented as a schema: probes parse it). */
export const HEALTH_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['status', 'database'],
  properties: { status: { type: 'string', enum: ['ok', 'error'] }, database: { type: 'string', enum: ['up', 'down'] } },
};

/** Readiness as probes parse it, up or not (the same shape either way). */
export const READINESS_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['status', 'database', 'migrations', 'redis', 'outbox'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'error'] },
    database: { type: 'string', enum: ['up', 'down'] },
    migrations: { type: 'string', enum: ['applied', 'pending', 'unknown'] },
    redis: { type: 'string', enum: ['up', 'down', 'not-configured'] },
    outbox: { type: 'string', enum: ['ok', 'stuck', 'unknown'] },
  },
};

/**
 * Every route refuses a query string holding a NUL, an unpaired surrogate or a reserved key
 * (configureApp); outside surface 2 the refusal is in surface 1's format.
 */
export const ApiQueryRefused = () =>
  ApiBadRequestResponse({
    description: '`invalid-params`: the query string holds a NUL character, an unpaired surrogate or a reserved key',
    type: V1ErrorResponseDto,
    example: { success: false, error: 'The request is not valid [invalid-params]', errorType: 'invalid-params' },
  });
