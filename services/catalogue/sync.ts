/**
 * One catalogue sync: feed → descriptors → the compacted `catalogue-embeddings` topic, incrementally.
 * The topic's current state is read first; images whose content hash is already there keep their
 * vectors (nothing is re-embedded), products whose facts and images did not change are not
 * re-published, and SKUs that left the feed are tombstoned (null value) so every consumer (the
 * embedder's index, the Elasticsearch catalogue index) drops them.
 */
import type { Kafka } from 'kafkajs';
import { CatalogueEmbedding } from '../../shared/contracts/events.ts';
import { topicName } from '../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../shared/kafka/client.ts';
import { encode } from '../../shared/kafka/codec.ts';
import { createLogger, type Logger } from '../../shared/observability/logger.ts';
import type { ImageDescriber } from '../../shared/vision/describer.ts';
import { catalogueKey, legacyCatalogueKey, readCatalogueState } from './catalogue-topic.ts';
import type { CatalogueConfig } from './config.ts';
import { embedCatalogue, type ImageProblem } from './embed-catalogue.ts';
import { type FeedProblem, readFeed } from './feed.ts';
import { knownVectors, planSync } from './plan.ts';
import { createImageFetcher, loadModel } from './vision-deps.ts';

export interface SyncOptions {
  feedPath: string;
  kafka?: Kafka;
  logger?: Logger;
  /** A loaded model to reuse (the scheduled sync keeps one). */
  describer?: ImageDescriber;
  /** Tombstone even when more than CATALOGUE_MAX_REMOVAL_SHARE of the SKUs would go. */
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface SyncReport {
  feed: string;
  modelId: string;
  descriptor: string;
  products: number;
  /** Images embedded now, and images whose vector was reused from the topic (same content hash). */
  embedded: number;
  reused: number;
  published: number;
  unchanged: number;
  tombstoned: number;
  /** SKUs that would have been tombstoned but were kept because the share was over the limit. */
  removalRefused: string[];
  feedProblems: FeedProblem[];
  imageProblems: ImageProblem[];
  /** Products of the feed with no usable image: kept as they were on the topic, if they were. */
  failedSkus: string[];
  seconds: number;
}

export async function syncCatalogue(config: CatalogueConfig, options: SyncOptions): Promise<SyncReport> {
  const started = Date.now();
  const logger = options.logger ?? createLogger('catalogue', config.LOG_LEVEL);
  const kafka =
    options.kafka ?? createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
  const topic = topicName('catalogue-embeddings', config.TOPIC_NAMESPACE);

  const feed = await readFeed(options.feedPath);
  for (const problem of feed.problems)
    logger.warn({ feed: options.feedPath, ...problem }, 'feed row skipped');
  if (feed.products.length === 0) {
    throw new Error(
      `catalogue feed ${options.feedPath} has no valid product; nothing synced (a sync never empties the catalogue)`,
    );
  }

  const describer = options.describer ?? (await loadModel(config));
  const fetcher = createImageFetcher(config);
  try {
    const modelId = describer.modelId;
    const descriptor = describer.descriptorId;
    const state = await readCatalogueState(kafka, topic, modelId, descriptor);
    const { current } = state;
    const report = await embedCatalogue(feed.products, {
      describer,
      fetcher,
      known: knownVectors(current, descriptor),
      batchSize: config.CATALOGUE_BATCH_SIZE,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    for (const problem of report.problems) logger.warn(problem, 'catalogue image skipped');

    const feedSkus = new Set<string>(feed.products.map((p) => p.sku));
    for (const problem of feed.problems) if (problem.sku) feedSkus.add(problem.sku);
    const plan = planSync({
      current,
      embedded: report.products,
      feedSkus,
      rewrite: state.legacyOnly,
      onTopic: state.keys.keys(),
      modelId,
      descriptor,
      now: new Date(),
    });

    let removalRefused: string[] = [];
    let tombstone = plan.tombstone;
    const onTopic = state.keys.size;
    if (!options.force && onTopic > 0 && tombstone.length / onTopic > config.CATALOGUE_MAX_REMOVAL_SHARE) {
      logger.error(
        { wouldRemove: tombstone.length, published: onTopic, limit: config.CATALOGUE_MAX_REMOVAL_SHARE },
        'refusing to tombstone that many SKUs at once (truncated feed?); re-run with --force if intended',
      );
      removalRefused = tombstone;
      tombstone = [];
    }

    // Each record under its full key and, identical, under the legacy key (the Elasticsearch
    // document id; embedders older than the descriptor key). A SKU that leaves loses every key of
    // this model, its other descriptors' included.
    const messages = [
      ...plan.publish.flatMap((embedding) => {
        const value = encode(CatalogueEmbedding, embedding);
        return [
          { key: catalogueKey(embedding.sku, modelId, descriptor), value },
          { key: legacyCatalogueKey(embedding.sku, modelId), value },
        ];
      }),
      ...tombstone.flatMap((sku) =>
        [
          ...new Set([
            ...(state.keys.get(sku) ?? []),
            catalogueKey(sku, modelId, descriptor),
            legacyCatalogueKey(sku, modelId),
          ]),
        ].map((key) => ({ key, value: null })),
      ),
    ];
    if (messages.length > 0) {
      const producer = await connectProducer(kafka);
      try {
        for (const slice of bySize(messages, SEND_BYTES))
          await producer.send({ topic, acks: -1, messages: slice });
      } finally {
        await producer.disconnect();
      }
    }
    const embeddedSkus = new Set(report.products.map((p) => p.item.sku));
    const result: SyncReport = {
      feed: options.feedPath,
      modelId,
      descriptor: describer.descriptorId,
      products: feed.products.length,
      embedded: report.embedded,
      reused: report.reused,
      published: plan.publish.length,
      unchanged: plan.unchanged.length,
      tombstoned: tombstone.length,
      removalRefused,
      feedProblems: feed.problems,
      imageProblems: report.problems,
      failedSkus: feed.products.filter((p) => !embeddedSkus.has(p.sku)).map((p) => p.sku),
      seconds: (Date.now() - started) / 1000,
    };
    logger.info(
      {
        products: result.products,
        embedded: result.embedded,
        reused: result.reused,
        published: result.published,
        unchanged: result.unchanged,
        tombstoned: result.tombstoned,
        problems: result.feedProblems.length + result.imageProblems.length,
        seconds: result.seconds,
      },
      'catalogue synced',
    );
    return result;
  } finally {
    await fetcher.close();
    if (!options.describer) await describer.encoder.close();
  }
}

/** Vectors make records large (tens of kB): batches stay well under the broker's 1 MB limit. */
const SEND_BYTES = 512 * 1024;

function bySize<T extends { key: string; value: Buffer | null }>(
  messages: readonly T[],
  limit: number,
): T[][] {
  const slices: T[][] = [];
  let slice: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = message.key.length + (message.value?.length ?? 0);
    if (slice.length > 0 && bytes + size > limit) {
      slices.push(slice);
      slice = [];
      bytes = 0;
    }
    slice.push(message);
    bytes += size;
  }
  if (slice.length > 0) slices.push(slice);
  return slices;
}
