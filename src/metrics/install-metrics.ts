import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config.js';
import { Metrics, METRICS_PATH } from './metrics.js';

/**
 * The HTTP side of the metrics, called by configureApp: one onResponse hook recording every
 * answered request by route template, and GET /metrics on the public port unless METRICS_PORT
 * moves it to its own listener (MetricsServer); then /metrics is a plain 404 here.
 *
 * The route is Fastify's own, not a Nest controller: no guard (so no rate limit), no filter, no
 * interceptor on the way, and it is left out of the request metrics (HttpMetrics excludes it).
 */
export function installMetrics(app: NestFastifyApplication, document?: OpenAPIObject): void {
  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(Metrics);
  const config = app.get(AppConfig);
  const http = metrics.http;

  fastify.addHook('onResponse', (request, reply, done) => {
    // routeOptions.url is the template (`/api/users/me/sessions/:id`); undefined when no route matched.
    http.record(request.routeOptions.url, request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  if (config.METRICS_PORT !== undefined) return;
  fastify.get(METRICS_PATH, async (_request, reply) => {
    const text = await metrics.scrape();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
  });
  if (document) document.paths[METRICS_PATH] = METRICS_OPENAPI_PATH;
}

/** GET /metrics in the OpenAPI document (only when it is on the public port). */
const METRICS_OPENAPI_PATH = {
  get: {
    tags: ['metrics'],
    summary: 'Prometheus metrics',
    description:
      'The Prometheus text format (version 0.0.4): HTTP requests by route template, codes sent, second-factor ' +
      'verifications, lockouts, challenges, the mail outbox, the database pool and the process. Not rate limited. ' +
      'With METRICS_PORT set it is served on that port only (METRICS_HOST, loopback by default) and this path answers 404. ' +
      'See README.md ("Metrics") for the metric names.',
    operationId: 'metrics',
    // Open to anybody who reaches the port (METRICS_PORT keeps it off the public one).
    security: [],
    responses: {
      '200': {
        description: 'Every metric, in the Prometheus text format',
        content: {
          'text/plain': {
            schema: { type: 'string' },
            example:
              "# HELP tfa_lockouts_total Failures that locked a user's second factor (LOCKOUT_THRESHOLD)\n# TYPE tfa_lockouts_total counter\ntfa_lockouts_total 0\n",
          },
        },
      },
    },
  },
};
