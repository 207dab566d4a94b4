import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { NoRateLimit } from '../rate-limit/rate-limit.guard.js';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { ApiQueryRefused, HEALTH_SCHEMA } from './health-openapi.js';

/** Probed by load balancers and orchestrators: never rate limited. */
@ApiTags('health')
@NoRateLimit()
@Controller('health')
export class HealthController {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Migrations run before the app listens, so a reachable database means a ready service. Down:
   * 503 with the same shape (not an API error body), so probes can read it.
   */
  @Get()
  @ApiQueryRefused()
  @ApiOperation({ summary: 'Health: 200 while the database answers' })
  @ApiOkResponse({ description: 'Up', schema: HEALTH_SCHEMA, example: { status: 'ok', database: 'up' } })
  @ApiServiceUnavailableResponse({
    description: 'The database does not answer',
    schema: HEALTH_SCHEMA,
    example: { status: 'error', database: 'down' },
  })
  async check(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      await this.dataSource.query('SELECT 1');
      return { status: 'ok', database: 'up' };
    } catch {
      void reply.status(503);
      return { status: 'error', database: 'down' };
    }
  }
}
