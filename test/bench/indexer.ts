/**
 * `npm run bench indexer [mentions] [dimension]`: throughput of the indexer (Kafka → Elasticsearch,
 * decode + validate + project + bulk + commit) beside a bare bulk-indexing loop writing the same
 * documents, in batches of the same size, to the same Elasticsearch in the same run.
 *
 *   baseline: the documents are projected up front, then sent with `client.bulk` in chunks of
 *             INDEXER_BATCH_SIZE, as many requests in flight as the indexer has partitions in flight;
 *   indexer:  the same mentions are produced to a fresh topic (6 partitions) first, then the indexer
 *             runs from a fresh group; the clock runs from start until every offset is committed.
 * Separate index prefixes, deleted afterwards. The last line is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { IndexerEnv } from '../../services/indexer/config.ts';
import { startIndexer } from '../../services/indexer/service.ts';
import { loadConfig } from '../../shared/config/env.ts';
import { Mention } from '../../shared/contracts/events.ts';
import { topicName, topicSpec } from '../../shared/contracts/topics.ts';
import { applyIndices } from '../../shared/elasticsearch/apply.ts';
import { bulkOperations } from '../../shared/elasticsearch/bulk.ts';
import { createElasticsearch } from '../../shared/elasticsearch/client.ts';
import { mentionAction } from '../../shared/elasticsearch/documents.ts';
import { connectProducer, createKafka } from '../../shared/kafka/client.ts';
import { encode } from '../../shared/kafka/codec.ts';
import { applyTopics } from '../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { benchServers } from './lib/servers.ts';

export default async function bench(args: string[]): Promise<void> {
  const total = Number(args[0] ?? 30_000);
  await benchServers({ elasticsearch: true });
  const dimension = Number(args[1] ?? 64);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const id = randomBytes(3).toString('hex');
  const namespace = `bench-indexer-${id}`;
  const config = loadConfig(IndexerEnv, {
    ...process.env,
    TOPIC_NAMESPACE: namespace,
    ES_INDEX_PREFIX: namespace,
    INDEXER_TOPICS: 'mentions',
    ES_RETENTION_JOB: 'off',
    LOG_LEVEL: 'warn',
  });
  const baselinePrefix = `${namespace}-bare`;
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'bench-indexer' });
  const es = createElasticsearch(config.ELASTICSEARCH_URL);
  const now = Date.now();
  const mentions: Mention[] = Array.from({ length: total }, (_, i) => ({
    kind: 'mention',
    mentionId: `b-${i}:0:SKU-${i % 400}`,
    uploadEventId: `b-${i}`,
    postId: `post-${i}`,
    memberId: `member-${i % 5000}`,
    imageIndex: 0,
    imageUrl: `https://cdn.example.com/p/${i}.jpg`,
    location: { country: 'GB', city: 'London', lat: 51.5 + (i % 100) / 1000, lon: -0.12 },
    eventTime: new Date(now - (i % 3600) * 1000).toISOString(),
    modelId: 'squeezenet1.1',
    processedAt: new Date(now).toISOString(),
    sku: `SKU-${i % 400}`,
    score: 0.5 + (i % 50) / 100,
    rank: 1,
    photoEmbedding: Array.from({ length: dimension }, (_, d) => Math.abs(Math.sin(i * 13 + d)) + 0.01),
  }));

  try {
    // ---- baseline: bare bulk loop over pre-projected documents
    await applyIndices(es, { prefix: baselinePrefix, retentionDays: 400, families: ['mentions'] });
    const actions = mentions.map((m) => mentionAction(baselinePrefix, m));
    const chunks: (typeof actions)[] = [];
    for (let i = 0; i < actions.length; i += config.INDEXER_BATCH_SIZE)
      chunks.push(actions.slice(i, i + config.INDEXER_BATCH_SIZE));
    log(
      `baseline: ${total} documents (${dimension}-d vectors) in bulks of ${config.INDEXER_BATCH_SIZE}, ${config.INDEXER_CONCURRENCY} in flight`,
    );
    const bareStarted = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        const response = await es.bulk({ operations: bulkOperations(chunk) });
        if (response.errors) throw new Error('baseline bulk had item errors');
      }
    };
    await Promise.all(Array.from({ length: config.INDEXER_CONCURRENCY }, worker));
    const bareSeconds = (performance.now() - bareStarted) / 1000;
    log(`baseline: ${(total / bareSeconds).toFixed(0)} docs/s`);

    // ---- indexer: produce first (not timed), then run until every offset is committed
    await applyTopics(kafka, { namespace, specs: [topicSpec('mentions'), topicSpec('dead-letters')] });
    const producer = await connectProducer(kafka);
    const topic = topicName('mentions', namespace);
    for (let i = 0; i < mentions.length; i += 1000) {
      await producer.send({
        topic,
        acks: -1,
        messages: mentions.slice(i, i + 1000).map((m) => ({ key: m.postId, value: encode(Mention, m) })),
      });
    }
    await producer.disconnect();
    log(`indexer: ${total} mentions on ${topic}; starting`);
    let committed = 0;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    const started = performance.now();
    const indexer = await startIndexer(config, {
      kafka,
      elasticsearch: es,
      logger: createLogger('bench-indexer', 'warn'),
      onCommitted: (records) => {
        committed += records.length;
        if (committed >= total) resolveDone();
      },
    });
    await done;
    const indexerSeconds = (performance.now() - started) / 1000;
    await indexer.stop();
    await es.indices.refresh({ index: `${namespace}-mentions-*` });
    const { count } = await es.count({ index: `${namespace}-mentions-*` });
    log(
      `indexer: ${(total / indexerSeconds).toFixed(0)} docs/s (includes group join), ${count} documents in the index`,
    );
    if (count !== total) throw new Error(`indexer left ${count} documents, expected ${total}`);

    const bareRate = total / bareSeconds;
    const indexerRate = total / indexerSeconds;
    console.log(
      JSON.stringify({
        bench: 'indexer',
        documents: total,
        vectorDimension: dimension,
        batchSize: config.INDEXER_BATCH_SIZE,
        concurrency: config.INDEXER_CONCURRENCY,
        baselineBareBulkDocsPerSecond: Math.round(bareRate),
        indexerDocsPerSecond: Math.round(indexerRate),
        ratioIndexerToBaseline: Number((indexerRate / bareRate).toFixed(3)),
        baselineSeconds: Number(bareSeconds.toFixed(2)),
        indexerSeconds: Number(indexerSeconds.toFixed(2)),
      }),
    );
  } finally {
    const existing = await es.indices.get({
      index: `${namespace}-*`,
      allow_no_indices: true,
      ignore_unavailable: true,
    });
    for (const index of Object.keys(existing)) await es.indices.delete({ index });
    for (const prefix of [namespace, baselinePrefix]) {
      await es.indices.deleteIndexTemplate({ name: `${prefix}-mentions` }).catch(() => undefined);
    }
    const admin = kafka.admin();
    await admin.connect();
    await admin
      .deleteTopics({ topics: [topicName('mentions', namespace), topicName('dead-letters', namespace)] })
      .catch(() => undefined);
    await admin.disconnect();
    await es.close();
  }
}
