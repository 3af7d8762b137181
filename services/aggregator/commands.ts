import type { Command } from 'commander';

/** `trend-radar aggregator run`: the windowed aggregator (heavy modules load only when it runs). */
export function register(program: Command): void {
  const aggregator = program
    .command('aggregator')
    .description('windowed aggregator: rising products and reorder alerts (docs/aggregator.md)');
  aggregator
    .command('run')
    .description('attribute signals to SKUs, window them in event time, score them and raise reorder alerts')
    .action(async () => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { AggregatorEnv } = await import('./config.ts');
      const { startAggregator } = await import('./service.ts');
      const { createLogger } = await import('../../shared/observability/logger.ts');
      const { createRegistry, serveHealth } = await import('../../shared/observability/metrics.ts');
      const { stopOnSignals } = await import('../../shared/kafka/consumer-runner.ts');
      const config = loadConfig(AggregatorEnv);
      const logger = createLogger('aggregator', config.LOG_LEVEL);
      const registry = createRegistry('aggregator');
      let ready = false;
      let running: Awaited<ReturnType<typeof startAggregator>> | undefined;
      // Ready once started, and while its consumers run (a broker out of reach, a crash).
      const health = await serveHealth(
        registry,
        config.METRICS_PORT,
        () => ready && running?.health().ready === true,
      );
      logger.info({ port: health.port }, 'health endpoint listening');
      running = await startAggregator(config, {
        logger,
        registry,
        // State and offsets are in Kafka: exiting loses nothing, and the supervisor restarts us.
        onFatal: () => process.exit(1),
      });
      ready = true;
      stopOnSignals(logger, running.stop, health.close);
    });
}
