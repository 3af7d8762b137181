import type { Command } from 'commander';
import { registerMatchAndModels } from './match-commands.ts';

/** `catalogue sync --feed FILE` (once) and `catalogue run` (on a node-cron schedule). */
export function register(program: Command): void {
  const catalogue = program
    .command('catalogue')
    .description('catalogue feed → image embeddings on the compacted catalogue-embeddings topic');
  catalogue
    .command('sync')
    .description('embed new or changed images, publish changed products, tombstone SKUs that left the feed')
    .option('--feed <file>', 'catalogue feed, JSON or CSV (default: CATALOGUE_FEED)')
    .option('--force', 'tombstone even more than CATALOGUE_MAX_REMOVAL_SHARE of the SKUs')
    .action(async (options: { feed?: string; force?: boolean }) => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { CatalogueEnv } = await import('./config.ts');
      const { syncCatalogue } = await import('./sync.ts');
      const { createLogger } = await import('../../shared/observability/logger.ts');
      const config = loadConfig(CatalogueEnv);
      const feedPath = options.feed ?? config.CATALOGUE_FEED;
      if (!feedPath) throw new Error('no feed: pass --feed FILE or set CATALOGUE_FEED');
      const logger = createLogger('catalogue', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
      const { createKafka } = await import('../../shared/kafka/client.ts');
      const { requireTopics } = await import('../../shared/kafka/required-topics.ts');
      const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
      // Before the model loads and the images are embedded: the topic must be there to publish to.
      await requireTopics(kafka, 'catalogue sync', config.TOPIC_NAMESPACE, ['catalogue-embeddings']);
      const report = await syncCatalogue(config, {
        feedPath,
        kafka,
        logger,
        ...(options.force ? { force: true } : {}),
        onProgress: (done, total) => process.stderr.write(`\rimages ${done}/${total}`),
      });
      process.stderr.write('\n');
      console.log(JSON.stringify(report, null, 2));
      if (report.removalRefused.length > 0) process.exitCode = 1;
    });
  catalogue
    .command('run')
    .description(
      'sync CATALOGUE_FEED now and then on CATALOGUE_SYNC_CRON until SIGTERM; serves /metrics /healthz',
    )
    .action(async () => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { CatalogueEnv } = await import('./config.ts');
      const { startCatalogueSync } = await import('./service.ts');
      const { createLogger } = await import('../../shared/observability/logger.ts');
      const { createRegistry, serveHealth } = await import('../../shared/observability/metrics.ts');
      const { stopOnSignals } = await import('../../shared/kafka/consumer-runner.ts');
      const config = loadConfig(CatalogueEnv);
      const logger = createLogger('catalogue', config.LOG_LEVEL);
      const registry = createRegistry('catalogue');
      let started = false;
      // The port first, before any Kafka work (and the model load): a busy METRICS_PORT fails at
      // once. Ready once the sync is scheduled.
      const health = await serveHealth(registry, config.METRICS_PORT, () => started);
      const service = await startCatalogueSync(config, { logger, registry }).catch(async (error: unknown) => {
        await health.close();
        throw error;
      });
      started = true;
      logger.info({ port: health.port, schedule: config.CATALOGUE_SYNC_CRON }, 'catalogue sync scheduled');
      stopOnSignals(
        logger,
        () => service.stop(),
        () => health.close(),
      );
    });
  registerMatchAndModels(program);
}
