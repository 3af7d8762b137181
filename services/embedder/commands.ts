import type { Command } from 'commander';

/** `embedder run`: the embedding worker (uploads → mentions). */
export function register(program: Command): void {
  program
    .command('embedder')
    .description('image-embedding worker: upload photos → catalogue SKU mentions (or no-match records)')
    .command('run')
    .description('run the worker until SIGTERM; serves /metrics /healthz /readyz on METRICS_PORT')
    .action(async () => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { EmbedderEnv } = await import('./config.ts');
      const { startEmbedder } = await import('./service.ts');
      const { createLogger } = await import('../../shared/observability/logger.ts');
      const { createRegistry, serveHealth } = await import('../../shared/observability/metrics.ts');
      const { stopOnSignals } = await import('../../shared/kafka/consumer-runner.ts');
      const config = loadConfig(EmbedderEnv);
      const logger = createLogger('embedder', config.LOG_LEVEL);
      const registry = createRegistry('embedder');
      let failed = false;
      let embedder: Awaited<ReturnType<typeof startEmbedder>> | undefined;
      // The port first, before any Kafka work: a busy METRICS_PORT fails here, not after the
      // consumers joined their groups (a rebalance for the other workers). Ready once the catalogue
      // index is built and while both consumers run (joined, not crashed, not stuck); a consumer
      // kafkajs will not restart stops the process (stopOnSignals), exit 1.
      const health = await serveHealth(
        registry,
        config.METRICS_PORT,
        () => !failed && embedder?.health().ready === true,
      );
      logger.info({ port: health.port }, 'metrics and health endpoint listening');
      const started = await startEmbedder(config, {
        logger,
        registry,
        // The model cannot describe anything: exit non-zero so the deployment shows it.
        onFatal: () => {
          failed = true;
          void started.stop().finally(() => process.exit(1));
        },
      }).catch(async (error: unknown) => {
        await health.close();
        throw error;
      });
      embedder = started;
      stopOnSignals(
        logger,
        () => started.stop(),
        () => health.close(),
      );
      await started.ready();
    });
}
