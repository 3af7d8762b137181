/**
 * The scheduled catalogue sync: one sync at start, then one per CATALOGUE_SYNC_CRON tick (nightly
 * by default, for new arrivals). The model stays loaded between runs; a run never overlaps the
 * previous one, and a failed run is logged and counted, and the next tick tries again.
 */
import type { Kafka } from 'kafkajs';
import cron from 'node-cron';
import { createKafka } from '../../shared/kafka/client.ts';
import { requireTopics } from '../../shared/kafka/required-topics.ts';
import { createLogger, type Logger } from '../../shared/observability/logger.ts';
import { Counter, createRegistry, Gauge, type Registry } from '../../shared/observability/metrics.ts';
import type { CatalogueConfig } from './config.ts';
import { type SyncReport, syncCatalogue } from './sync.ts';
import { loadModel } from './vision-deps.ts';

export interface CatalogueSyncDeps {
  kafka?: Kafka;
  logger?: Logger;
  registry?: Registry;
}

export interface CatalogueSyncService {
  registry: Registry;
  /** Runs a sync now (or waits for the one in progress) and returns its report. */
  syncNow(): Promise<SyncReport>;
  stop(): Promise<void>;
}

export async function startCatalogueSync(
  config: CatalogueConfig,
  deps: CatalogueSyncDeps = {},
): Promise<CatalogueSyncService> {
  const feedPath = config.CATALOGUE_FEED;
  if (!feedPath) throw new Error('CATALOGUE_FEED is required for the scheduled catalogue sync');
  const logger = deps.logger ?? createLogger('catalogue', config.LOG_LEVEL);
  const registry = deps.registry ?? createRegistry('catalogue');
  const kafka =
    deps.kafka ?? createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
  await requireTopics(kafka, 'catalogue', config.TOPIC_NAMESPACE, ['catalogue-embeddings']);
  const describer = await loadModel(config);
  const runs = new Counter({
    name: 'trendradar_catalogue_syncs_total',
    help: 'Catalogue syncs, by result (ok, failed).',
    labelNames: ['result'],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'trendradar_catalogue_last_success_seconds',
    help: 'Unix time of the last successful catalogue sync.',
    registers: [registry],
  });

  let running: Promise<SyncReport> | undefined;
  const syncNow = () => {
    running ??= syncCatalogue(config, { feedPath, kafka, logger, describer })
      .then((report) => {
        runs.inc({ result: 'ok' });
        lastSuccess.set(Date.now() / 1000);
        return report;
      })
      .catch((error: unknown) => {
        runs.inc({ result: 'failed' });
        throw error;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const scheduled = () => {
    syncNow().catch((error: unknown) => logger.error({ error: String(error) }, 'catalogue sync failed'));
  };
  const task = cron.schedule(config.CATALOGUE_SYNC_CRON, scheduled);
  scheduled();

  return {
    registry,
    syncNow,
    async stop() {
      await task.stop();
      await running?.catch(() => {});
      await describer.encoder.close();
    },
  };
}
