/**
 * The indexer in-process: Kafka (uploads, mentions, trend windows, alerts, alert actions,
 * catalogue embeddings) → Elasticsearch, offsets committed only after Elasticsearch acknowledged.
 * The templates are applied at start so no document can ever create an index with guessed mappings.
 */
import type { Client } from '@elastic/elasticsearch';
import type { Kafka } from 'kafkajs';
import cron from 'node-cron';
import type { BaseEnv } from '../../shared/config/env.ts';
import { topicName } from '../../shared/contracts/topics.ts';
import { type ApplyEsOptions, applyIndices, type EsChange } from '../../shared/elasticsearch/apply.ts';
import { createElasticsearch } from '../../shared/elasticsearch/client.ts';
import { deleteExpiredIndices } from '../../shared/elasticsearch/retention.ts';
import { createKafka } from '../../shared/kafka/client.ts';
import {
  type ConsumerHealth,
  ConsumerRunner,
  combinedHealth,
  type InboundRecord,
} from '../../shared/kafka/consumer-runner.ts';
import { requireTopics } from '../../shared/kafka/required-topics.ts';
import { createLogger, type Logger } from '../../shared/observability/logger.ts';
import { Counter, createRegistry, Gauge, type Registry } from '../../shared/observability/metrics.ts';
import { type IndexerConfig, indexerGroupId } from './config.ts';
import { indexerHandler } from './handler.ts';

export interface IndexerDeps {
  kafka?: Kafka;
  elasticsearch?: Client;
  logger?: Logger;
  registry?: Registry;
  /** Called after each chunk's offsets are committed. */
  onCommitted?: (records: InboundRecord[]) => void;
  /** See ConsumerRunnerOptions: set by reindex. */
  alreadyDeadLettered?: (record: InboundRecord) => boolean;
  /** Its consumer crashed for good (default: the service fails, see ConsumerRunnerOptions). */
  onFatal?: (error: Error) => void;
}

export interface Indexer {
  stop(): Promise<void>;
  registry: Registry;
  groupId: string;
  /** True while the last bulk request reached Elasticsearch (it answered). */
  elasticsearchReachable(): boolean;
  /** For /readyz: the consumer runs (see ConsumerRunner.health) and Elasticsearch answers. */
  health(): ConsumerHealth;
}

export async function applyElasticsearch(
  config: Pick<BaseEnv, 'ELASTICSEARCH_URL' | 'ES_INDEX_PREFIX'> & { ES_RETENTION_DAYS: number },
  options: Pick<ApplyEsOptions, 'now' | 'families'> & { client?: Client } = {},
): Promise<EsChange[]> {
  const client = options.client ?? createElasticsearch(config.ELASTICSEARCH_URL);
  try {
    return await applyIndices(client, {
      prefix: config.ES_INDEX_PREFIX,
      retentionDays: config.ES_RETENTION_DAYS,
      ...(options.now ? { now: options.now } : {}),
      ...(options.families ? { families: options.families } : {}),
    });
  } finally {
    if (!options.client) await client.close();
  }
}

export async function startIndexer(config: IndexerConfig, deps: IndexerDeps = {}): Promise<Indexer> {
  const logger = deps.logger ?? createLogger('indexer', config.LOG_LEVEL);
  const registry = deps.registry ?? createRegistry('indexer');
  const kafka =
    deps.kafka ?? createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
  await requireTopics(kafka, 'indexer', config.TOPIC_NAMESPACE, [...config.INDEXER_TOPICS, 'dead-letters']);
  const client = deps.elasticsearch ?? createElasticsearch(config.ELASTICSEARCH_URL);
  const groupId = indexerGroupId(config);

  const documents = new Counter({
    name: 'trendradar_indexer_documents_total',
    help: 'Documents sent to Elasticsearch, by index family and result (indexed, rejected, retry).',
    labelNames: ['family', 'result'],
    registers: [registry],
  });
  const withoutVector = new Counter({
    name: 'trendradar_indexer_documents_without_vector_total',
    help: 'Documents indexed without their vector fields, which Elasticsearch refused (another dimension than the index, zero vector).',
    labelNames: ['family'],
    registers: [registry],
  });
  const superseded = new Counter({
    name: 'trendradar_indexer_documents_superseded_total',
    help: 'Documents not written because a newer version (processedAt, updatedAt) was already indexed.',
    labelNames: ['family'],
    registers: [registry],
  });
  const waits = new Counter({
    name: 'trendradar_indexer_elasticsearch_waits_total',
    help: 'Times the indexer waited for an unavailable or overloaded Elasticsearch.',
    registers: [registry],
  });
  const reachable = new Gauge({
    name: 'trendradar_indexer_elasticsearch_reachable',
    help: '1 while bulk requests reach Elasticsearch, 0 while the indexer is waiting for it.',
    registers: [registry],
  });
  reachable.set(1);
  let esReachable = true;

  for (const change of await applyElasticsearch(config, { client })) {
    if (change.action !== 'unchanged') logger.info(change, 'elasticsearch changed');
    if (change.action === 'drift') logger.warn(change, 'index mapping drifted: run `trend-radar reindex`');
  }

  let stopping = false;
  const runner = new ConsumerRunner({
    kafka,
    logger,
    registry,
    service: 'indexer',
    groupId,
    topics: config.INDEXER_TOPICS.map((id) => topicName(id, config.TOPIC_NAMESPACE)),
    deadLetterTopic: topicName('dead-letters', config.TOPIC_NAMESPACE),
    maxBatchSize: config.INDEXER_BATCH_SIZE,
    partitionsConsumedConcurrently: config.INDEXER_CONCURRENCY,
    backoff: { initialMs: config.INDEXER_BACKOFF_INITIAL_MS, maxMs: config.INDEXER_BACKOFF_MAX_MS },
    ...(deps.onCommitted ? { onCommitted: deps.onCommitted } : {}),
    ...(deps.alreadyDeadLettered ? { alreadyDeadLettered: deps.alreadyDeadLettered } : {}),
    ...(deps.onFatal ? { onFatal: deps.onFatal } : {}),
    handleBatch: indexerHandler({
      client,
      namespace: config.TOPIC_NAMESPACE,
      prefix: config.ES_INDEX_PREFIX,
      topics: config.INDEXER_TOPICS,
      photoBaseUrl: config.INDEXER_PHOTO_BASE_URL,
      maxFutureSkewMs: config.INDEXER_MAX_FUTURE_SKEW_MS,
      backoff: { initialMs: config.INDEXER_BACKOFF_INITIAL_MS, maxMs: config.INDEXER_BACKOFF_MAX_MS },
      isStopping: () => stopping,
      onWait: (info) => {
        waits.inc();
        reachable.set(0);
        esReachable = false;
        logger.warn(info, 'Elasticsearch unavailable or overloaded; waiting, offsets not committed');
      },
      // Only an answer says Elasticsearch is back: a chunk given back unanswered (a rebalance, a
      // stop) says nothing about it.
      onAnswered: () => {
        reachable.set(1);
        esReachable = true;
      },
      onResults: (family, results) => {
        let stripped = 0;
        let reason: string | undefined;
        for (const result of results) {
          documents.inc({ family, result: result.status });
          if (result.status !== 'indexed' || !result.note) continue;
          if (result.note === 'superseded') superseded.inc({ family });
          else {
            withoutVector.inc({ family });
            stripped++;
            reason ??= result.reason;
          }
        }
        if (stripped > 0)
          logger.warn(
            { family, documents: stripped, reason },
            'indexed documents without their vectors (Elasticsearch refused them): searchable, not in kNN search',
          );
      },
    }),
  });
  await runner.start();
  logger.info({ groupId, topics: config.INDEXER_TOPICS, prefix: config.ES_INDEX_PREFIX }, 'indexer started');

  const enforceRetention = async () => {
    const deleted = await deleteExpiredIndices(client, config.ES_INDEX_PREFIX, config.ES_RETENTION_DAYS);
    if (deleted.length > 0) logger.info({ deleted }, 'retention: deleted expired monthly indices');
  };
  const retentionTask =
    config.ES_RETENTION_JOB === 'on'
      ? cron.schedule(config.ES_RETENTION_CRON, () => {
          enforceRetention().catch((error: unknown) =>
            logger.error({ error: String(error) }, 'retention job failed'),
          );
        })
      : undefined;

  return {
    registry,
    groupId,
    elasticsearchReachable: () => esReachable,
    health: () =>
      combinedHealth([
        ['consumer', runner.health()],
        [
          'elasticsearch',
          esReachable
            ? { ready: true, reason: 'answering' }
            : { ready: false, reason: 'unavailable or overloaded, waiting for it' },
        ],
      ]),
    async stop() {
      stopping = true;
      await retentionTask?.stop();
      // Aborts a bulk request in flight: the chunk goes back uncommitted.
      await runner.stop();
      if (!deps.elasticsearch) await client.close();
      logger.info({ groupId }, 'indexer stopped');
    },
  };
}
