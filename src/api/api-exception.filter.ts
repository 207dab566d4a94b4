import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { isSurfaceTwoPath, S2ExceptionFilter } from './auth/s2-exception.filter.js';
import { V1ExceptionFilter } from './v1/v1-exception.filter.js';

/**
 * Errors raised before any controller's own filter can act (body parsing, unknown routes, global
 * guards) answer in the format of the surface the path belongs to: an error on /api/auth never
 * comes out in Rocket.Chat's shape, nor the reverse.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly surfaceOne = new V1ExceptionFilter();
  private readonly surfaceTwo = new S2ExceptionFilter();

  catch(exception: unknown, host: ArgumentsHost): void {
    const { url } = host.switchToHttp().getRequest<FastifyRequest>();
    (isSurfaceTwoPath(url) ? this.surfaceTwo : this.surfaceOne).catch(exception, host);
  }
}
