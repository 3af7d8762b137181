/**
 * The embedding worker in-process: it first reads the compacted catalogue topic to its end and
 * builds the in-memory index (`ready()` resolves once it then consumes uploads), keeps following
 * the topic (changes are batched for EMBEDDER_INDEX_REBUILD_DELAY_MS, then the index is rebuilt on
 * a worker thread and swapped in; the previous index serves until then), and turns uploads into
 * mention / no-match records through a ConsumerRunner: outputs are acknowledged before offsets
 * are committed, bad images go to the dead-letter topic.
 */
import type { Kafka } from 'kafkajs';
import { type BlobStore, FilesystemBlobStore } from '../../shared/blobstore/blob-store.ts';
import { topicName } from '../../shared/contracts/topics.ts';
import { createKafka } from '../../shared/kafka/client.ts';
import {
  type ConsumerHealth,
  ConsumerRunner,
  combinedHealth,
  type InboundRecord,
} from '../../shared/kafka/consumer-runner.ts';
import { requireTopics } from '../../shared/kafka/required-topics.ts';
import { followTopics } from '../../shared/kafka/topic-follower.ts';
import type { ImageFetcher } from '../../shared/net/image-fetcher.ts';
import { createLogger, type Logger } from '../../shared/observability/logger.ts';
import { Counter, createRegistry, Gauge, type Registry } from '../../shared/observability/metrics.ts';
import type { Describer } from '../../shared/vision/describer.ts';
import { descriptorDimension } from '../../shared/vision/descriptor.ts';
import { catalogueChange } from '../catalogue/catalogue-topic.ts';
import { createImageFetcher, loadModel, loadModelPool } from '../catalogue/vision-deps.ts';
import { CatalogueMemory } from './catalogue-memory.ts';
import { type EmbedderConfig, embedderGroupId } from './config.ts';
import { embedderHandler } from './handler.ts';

export interface EmbedderDeps {
  kafka?: Kafka;
  logger?: Logger;
  registry?: Registry;
  blobs?: BlobStore;
  fetcher?: ImageFetcher;
  describer?: Describer;
  onCommitted?: (records: InboundRecord[]) => void;
  /** Called once if the embedder stops itself (the model does not fit its manifest). */
  onFatal?: (error: Error) => void;
}

export interface Embedder {
  stop(): Promise<void>;
  registry: Registry;
  groupId: string;
  /** Resolves once the catalogue index is built and the uploads consumer is running. */
  ready(): Promise<void>;
  /**
   * For /readyz: started (`ready()` resolved), and both consumers run — the catalogue follower and
   * the uploads consumer (joined, not crashed, not stuck; see ConsumerRunner.health).
   */
  health(): ConsumerHealth;
  /** SKUs in the index now. */
  catalogueSize(): number;
}

export async function startEmbedder(config: EmbedderConfig, deps: EmbedderDeps = {}): Promise<Embedder> {
  const logger = deps.logger ?? createLogger('embedder', config.LOG_LEVEL);
  const registry = deps.registry ?? createRegistry('embedder');
  const kafka =
    deps.kafka ?? createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
  const groupId = embedderGroupId(config);
  // Before the model loads (seconds to minutes): a namespace without topics fails at once.
  await requireTopics(kafka, 'embedder', config.TOPIC_NAMESPACE, [
    'catalogue-embeddings',
    'uploads',
    'mentions',
    'dead-letters',
  ]);
  const decodeLimits = { maxPixels: config.EMBEDDER_MAX_PIXELS };
  const describer: Describer =
    deps.describer ??
    (config.EMBEDDER_WORKERS === 0
      ? await loadModel(config, decodeLimits)
      : await loadModelPool(config, config.EMBEDDER_WORKERS, decodeLimits));
  // Enough model batches in flight to keep every worker busy while chunks wait on Kafka.
  const inFlightBatches = Math.max(2, describer.parallelism ?? 1);
  const fetcher = deps.fetcher ?? createImageFetcher(config);
  const blobs = deps.blobs ?? new FilesystemBlobStore(config.BLOB_STORE_DIR);
  const modelId = describer.modelId;

  const images = new Counter({
    name: 'trendradar_embedder_images_total',
    help: 'Upload images processed, once each on their final outcome (matched, no-match, unusable).',
    labelNames: ['result'],
    registers: [registry],
  });
  const catalogueSkus = new Gauge({
    name: 'trendradar_embedder_catalogue_skus',
    help: 'SKUs in the in-memory catalogue index.',
    registers: [registry],
  });
  const rebuilds = new Counter({
    name: 'trendradar_embedder_index_rebuilds_total',
    help: 'Times the catalogue index was rebuilt after catalogue changes.',
    registers: [registry],
  });

  const memory = new CatalogueMemory(
    modelId,
    describer.descriptorId,
    descriptorDimension(describer.manifest),
  );
  let initialLoad = true;
  let rebuildTimer: NodeJS.Timeout | undefined;
  // The build runs on a worker thread (minutes for a large catalogue): heartbeats and matching on
  // the previous index go on meanwhile. One build at a time; changes that arrive during a build
  // schedule the next one when it ends.
  let building: Promise<void> | undefined;
  const aborting = new AbortController();
  const rebuild = async () => {
    const started = Date.now();
    const index = await memory.rebuildInBackground(aborting.signal);
    rebuilds.inc();
    catalogueSkus.set(index.productCount);
    logger.info(
      { skus: index.productCount, views: index.rowCount, ms: Date.now() - started },
      'catalogue index built',
    );
  };
  const scheduleRebuild = () => {
    if (rebuildTimer || building || aborting.signal.aborted) return;
    rebuildTimer = setTimeout(() => {
      rebuildTimer = undefined;
      building = rebuild()
        .catch((error: unknown) => {
          if (!aborting.signal.aborted)
            logger.error(
              { error: (error as Error).message },
              'catalogue index rebuild failed; the previous index keeps serving',
            );
        })
        .finally(() => {
          building = undefined;
          if (memory.pending) scheduleRebuild();
        });
    }, config.EMBEDDER_INDEX_REBUILD_DELAY_MS);
  };
  let follower: Awaited<ReturnType<typeof followTopics>>;
  try {
    follower = await followTopics(
      kafka,
      [topicName('catalogue-embeddings', config.TOPIC_NAMESPACE)],
      `${groupId}-catalogue`,
      (_topic, message) => {
        const change = catalogueChange(
          message.key?.toString('utf8') ?? null,
          message.value,
          modelId,
          describer.descriptorId,
        );
        // Records of other models and descriptors share the topic: only unreadable ones are news.
        const result = change.kind === 'ignore' && change.expected ? 'unchanged' : memory.apply(change);
        if (typeof result === 'object') {
          logger.warn({ offset: message.offset, reason: result.ignored }, 'catalogue record not used');
        }
        if (!initialLoad && memory.pending) scheduleRebuild();
      },
      { registry, logger },
    );
  } catch (error) {
    // The worker threads would keep the process alive.
    if (!deps.describer) await describer.close();
    throw error;
  }

  const runner = new ConsumerRunner({
    kafka,
    logger,
    registry,
    service: 'embedder',
    groupId,
    topics: [topicName('uploads', config.TOPIC_NAMESPACE)],
    deadLetterTopic: topicName('dead-letters', config.TOPIC_NAMESPACE),
    maxBatchSize: config.EMBEDDER_BATCH_SIZE,
    maxAttempts: config.EMBEDDER_MAX_ATTEMPTS,
    partitionsConsumedConcurrently: config.EMBEDDER_CONCURRENCY,
    ...(deps.onCommitted ? { onCommitted: deps.onCommitted } : {}),
    handleBatch: embedderHandler({
      describer,
      inFlightBatches,
      sources: { blobs, fetcher },
      index: () => memory.index,
      productFacts: (sku) => memory.factsOf(sku),
      policy: { threshold: config.EMBEDDER_MATCH_THRESHOLD, margin: config.EMBEDDER_MATCH_MARGIN },
      keepCandidates: config.EMBEDDER_CANDIDATES,
      mentionsTopic: topicName('mentions', config.TOPIC_NAMESPACE),
      deadLetterTopic: topicName('dead-letters', config.TOPIC_NAMESPACE),
      service: 'embedder',
      onImage: (result) => images.inc({ result }),
      onModelMismatch: (error) => fatal(error),
    }),
  });

  // Every image would fail alike: stop consuming (uncommitted uploads wait for a fixed deployment).
  let fatalError: Error | undefined;
  const fatal = (error: Error) => {
    if (fatalError) return;
    fatalError = error;
    logger.error(
      { error: error.message },
      'the model does not fit its manifest: the embedder stops consuming',
    );
    void runner.stop().catch(() => {});
    deps.onFatal?.(error);
  };

  let stopped = false;
  let runnerStarting = false;
  let consuming = false;
  const started = (async () => {
    await follower.caughtUp;
    initialLoad = false;
    await rebuild();
    // Changes that arrived while the first index was being built.
    if (memory.pending) scheduleRebuild();
    if (memory.skuCount === 0)
      logger.warn('the catalogue is empty: every photo will be a no-match until it is synced');
    if (stopped) return;
    runnerStarting = true;
    await runner.start();
    consuming = true;
    logger.info({ groupId, modelId, skus: memory.skuCount }, 'embedder consuming uploads');
  })();
  // Keeps an early failure visible to ready() without an unhandled rejection in between.
  started.catch(() => {});

  return {
    registry,
    groupId,
    ready: () => started,
    health: () =>
      consuming
        ? combinedHealth([
            ['catalogue', follower.health()],
            ['uploads', runner.health()],
          ])
        : { ready: false, reason: stopped ? 'stopped' : 'loading the catalogue and building its index' },
    catalogueSize: () => memory.index.productCount,
    async stop() {
      stopped = true;
      if (rebuildTimer) clearTimeout(rebuildTimer);
      aborting.abort();
      await building;
      // The follower first: a worker still loading the catalogue stops without waiting for the end of it.
      await follower.stop();
      // A start under way must finish before its consumer can be stopped.
      if (runnerStarting) await started.catch(() => {});
      await runner.stop();
      if (!deps.fetcher) await fetcher.close();
      if (!deps.describer) await describer.close();
      logger.info({ groupId }, 'embedder stopped');
    },
  };
}
