import { Global, Module } from '@nestjs/common';
import { DatabasePoolCollector } from './database-pool.collector.js';
import { MetricsServer } from './metrics-server.js';
import { Metrics } from './metrics.js';

/**
 * Prometheus metrics. Global, like DomainEvents: every layer counts through Metrics without
 * importing a module above it. Each app instance has its own Metrics (and registry).
 */
@Global()
@Module({
  providers: [Metrics, MetricsServer, DatabasePoolCollector],
  exports: [Metrics],
})
export class MetricsModule {}
