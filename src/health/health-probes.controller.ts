import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { NoRateLimit } from '../rate-limit/rate-limit.guard.js';
import type { FastifyReply } from 'fastify';
import { ApiQueryRefused, READINESS_SCHEMA } from './health-openapi.js';
import { ReadinessService, type Readiness } from './readiness.service.js';

const READY_EXAMPLE: Readiness = { status: 'ok', database: 'up', migrations: 'applied', redis: 'not-configured', outbox: 'ok' };

/**
 * Kubernetes-style probes beside GET /health (which stays as it is): liveness without touching
 * anything outside the process, readiness with every dependency. Never rate limited.
 */
@ApiTags('health')
@NoRateLimit()
@Controller('health')
export class HealthProbesController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get('live')
  @ApiQueryRefused()
  @ApiOperation({ summary: 'Liveness: 200 while the process runs (no database access)' })
  @ApiOkResponse({
    content: {
      'application/json': {
        schema: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } },
        example: { status: 'ok' },
      },
    },
  })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiQueryRefused()
  @ApiOperation({
    summary: 'Readiness: database up, migrations applied, Redis answering (when configured), outbox moving',
  })
  @ApiOkResponse({ content: { 'application/json': { schema: READINESS_SCHEMA, example: READY_EXAMPLE } } })
  @ApiServiceUnavailableResponse({
    description: 'A dependency failed; the same shape names it',
    content: {
      'application/json': { schema: READINESS_SCHEMA, example: { ...READY_EXAMPLE, status: 'error', outbox: 'stuck' } },
    },
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<Readiness> {
    const readiness = await this.readiness.check();
    // 503 with the body as it is (not an API error body), so probes and people can read it.
    if (readiness.status === 'error') void reply.status(503);
    return readiness;
  }
}
