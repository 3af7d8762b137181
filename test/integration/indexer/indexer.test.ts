/**
 * The indexer against the real Kafka broker and Elasticsearch node: a simulated run lands in the
 * indices, re-delivery and a full reindex leave the counts unchanged, a document Elasticsearch
 * rejects goes to the dead-letter topic while its neighbours are indexed, a tombstone deletes the
 * catalogue document, and an Elasticsearch outage (a TCP proxy in front of the shared node that
 * this test closes for a minute; the shared node itself is never stopped) loses nothing.
 */

import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IndexerConfig, IndexerEnv } from '../../../services/indexer/config.ts';
import { reindex } from '../../../services/indexer/reindex.ts';
import { type Indexer, startIndexer } from '../../../services/indexer/service.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { Mention, ReorderAlert, Upload } from '../../../shared/contracts/events.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { catalogueIndex, monthlyIndex } from '../../../shared/elasticsearch/indices.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, headerText } from '../../support/kafka.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { countDocs, countsOf, expectedCounts, produceRaw, produceScenario, waitFor } from './harness.ts';
import { buildScenario } from './scenario.ts';

const { kafkaBrokers, elasticsearchUrl } = integrationEnv();
const namespace = uniqueNamespace('indexer');
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'indexer-test' });
const es = createElasticsearch(elasticsearchUrl);
const logger = createLogger('indexer-test', 'silent');
const scenario = buildScenario();
const expected = expectedCounts(scenario);

function configFor(url = elasticsearchUrl): IndexerConfig {
  return loadConfig(IndexerEnv, {
    KAFKA_BROKERS: kafkaBrokers.join(','),
    TOPIC_NAMESPACE: namespace,
    ES_INDEX_PREFIX: namespace,
    ELASTICSEARCH_URL: url,
    ES_RETENTION_JOB: 'off',
    INDEXER_BACKOFF_INITIAL_MS: '100',
    INDEXER_BACKOFF_MAX_MS: '1000',
    LOG_LEVEL: 'silent',
  });
}

/** True once the indexer's group has committed up to the end of every partition of its topics. */
async function caughtUp(config: IndexerConfig, groupId: string): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const id of config.INDEXER_TOPICS) {
      const topic = topicName(id, namespace);
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const end of ends) {
        const at = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
        if (Number(end.high) > Number(end.low) && at < Number(end.high)) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

async function committedOffsets(groupId: string, topicId: 'uploads' | 'reorder-alerts'): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topicName(topicId, namespace)] });
    return JSON.stringify(entry?.partitions.map((p) => [p.partition, p.offset]).sort());
  } finally {
    await admin.disconnect();
  }
}

let indexer: Indexer | undefined;

beforeAll(async () => {
  await applyTopics(kafka, { namespace });
});

afterAll(async () => {
  await indexer?.stop();
  await deleteIndices(es, namespace);
  await es.close();
});

describe('indexer', () => {
  it('indexes a simulated run; re-delivery and a full reindex leave the document counts unchanged', async () => {
    await produceScenario(kafka, namespace, scenario);
    const config = configFor();
    indexer = await startIndexer(config, { kafka, logger });
    const indexed = await waitFor(
      async () => JSON.stringify(await countsOf(es, namespace)) === JSON.stringify(expected),
    );
    expect(await countsOf(es, namespace)).toEqual(expected);
    expect(indexed).toBe(true);

    // Ids come from the events: the mention document is the photo, addressable by its photo id.
    const mention = scenario.mentions[0]!;
    const found = await es.search<{ mentionId: string }>({
      index: `${namespace}-mentions`,
      query: { ids: { values: [`${mention.uploadEventId}:${mention.imageIndex}`] } },
    });
    expect(found.hits.hits.map((h) => h._source!.mentionId)).toEqual([mention.mentionId]);
    const post = await es.search<{ location: { point?: unknown } }>({
      index: `${namespace}-posts`,
      query: { ids: { values: [scenario.uploads[0]!.postId] } },
    });
    expect(post.hits.hits[0]!._source!.location.point).toEqual({ lat: 51.5072, lon: -0.1276 });

    // Re-delivery: the same mentions, windows and alerts again.
    await produceScenario(kafka, namespace, scenario, ['mentions', 'windows', 'alerts']);
    expect(await waitFor(() => caughtUp(config, indexer!.groupId))).toBe(true);
    expect(await countsOf(es, namespace)).toEqual(expected);

    // Replay: rebuild every index from the beginning of the topics.
    await indexer.stop();
    indexer = undefined;
    const report = await reindex(config, { kafka, elasticsearch: es, logger, pollMs: 200 });
    expect(report.deletedIndices.length).toBeGreaterThanOrEqual(6);
    expect(report.records).toBe(
      expected.posts +
        2 * (expected.mentions + expected['trend-windows'] + expected['reorder-alerts']) +
        expected['alert-actions'] +
        expected.catalogue,
    );
    expect(await countsOf(es, namespace)).toEqual(expected);
  });

  it('sends documents Elasticsearch rejects to the dead-letter topic and indexes the rest of the bulk', async () => {
    const config = configFor();
    indexer = await startIndexer(config, { kafka, logger });
    const base = scenario.mentions[0]! as Extract<Mention, { kind: 'mention' }>;
    const variant = (n: number, photoEmbedding: number[], score = base.score) => ({
      ...base,
      mentionId: `evt-${n}:0:BAG-1`,
      uploadEventId: `evt-${n}`,
      postId: `post-${n}`,
      photoEmbedding,
      score,
    });
    const mentions = [
      variant(100, [0.9, 0.1, 0, 0, 0, 0, 0, 0]),
      variant(101, [1, 0, 0, 0]), // 4 dimensions where the index has 8: indexed without the vector
      variant(102, [0, 0.8, 0.1, 0, 0, 0, 0, 0]),
      variant(103, [0, 0, 0, 0, 0, 0, 0, 0]), // zero magnitude: cosine cannot use it, same
      variant(104, [0, 0, 0.7, 0.1, 0, 0, 0, 0]),
      variant(106, [0, 0, 0.7, 0.1, 0, 0, 0, 0], 1e39), // beyond a float field: rejected
    ];
    await produceRaw(kafka, topicName('mentions', namespace), [
      ...mentions.map((m) => ({ key: m.postId, value: encode(Mention, m) })),
      { key: 'post-105', value: '{"kind": "mention", "truncated' },
      // Dated 200 days ahead (a producer that bypassed ingest): it would open a future month.
      {
        key: 'post-107',
        value: encode(Mention, {
          ...variant(107, [0, 0, 0.7, 0.1, 0, 0, 0, 0]),
          eventTime: new Date(Date.now() + 200 * 86_400_000).toISOString(),
        }),
      },
    ]);
    const dead = await collectUntil(
      kafka,
      topicName('dead-letters', namespace),
      (r) => r.length >= 3,
      60_000,
    );
    expect(await waitFor(() => caughtUp(config, indexer!.groupId))).toBe(true);

    expect(await countDocs(es, namespace, 'mentions')).toBe(expected.mentions + 5);
    const byKey = new Map(dead.map((r) => [r.message.key!.toString(), r.message]));
    expect([...byKey.keys()].sort()).toEqual(['post-105', 'post-106', 'post-107']);
    expect(headerText(byKey.get('post-107')!, 'dlq.error.class')).toBe('InvalidRecordError');
    expect(headerText(byKey.get('post-107')!, 'dlq.error')).toMatch(/ahead of this clock/);
    const months = Object.keys(await es.indices.get({ index: `${namespace}-mentions-*` }));
    const thisMonth = monthlyIndex(namespace, 'mentions', new Date());
    expect(months.every((index) => index <= thisMonth)).toBe(true);
    expect(headerText(byKey.get('post-106')!, 'dlq.error')).toMatch(/score/);
    expect(headerText(byKey.get('post-106')!, 'dlq.error.class')).toBe('DocumentRejectedError');
    expect(headerText(byKey.get('post-105')!, 'dlq.error.class')).toBe('InvalidRecordError');
    expect(headerText(byKey.get('post-106')!, 'dlq.original.topic')).toBe(topicName('mentions', namespace));
    expect(byKey.get('post-106')!.value!.toString()).toBe(encode(Mention, mentions[5]!).toString());
    // The mentions whose vector Elasticsearch refused are searchable, without the vector.
    const stripped = await es.search<Record<string, unknown>>({
      index: `${namespace}-mentions`,
      query: { terms: { postId: ['post-101', 'post-103'] } },
    });
    expect(stripped.hits.hits.map((h) => h._source!.sku)).toEqual(['BAG-1', 'BAG-1']);
    expect(stripped.hits.hits.every((h) => h._source!.photoEmbedding === undefined)).toBe(true);
    const metrics = await indexer!.registry.metrics();
    expect(metrics).toMatch(
      /trendradar_indexer_documents_without_vector_total\{[^}]*family="mentions"[^}]*\} 2$/m,
    );
  });

  it('deletes the catalogue document on a tombstone', async () => {
    const config = configFor();
    indexer ??= await startIndexer(config, { kafka, logger });
    await produceRaw(kafka, topicName('catalogue-embeddings', namespace), [
      { key: 'SHOE-1|squeezenet1.1', value: null },
    ]);
    expect(await waitFor(() => caughtUp(config, indexer!.groupId))).toBe(true);
    expect(await countDocs(es, namespace, 'catalogue')).toBe(expected.catalogue - 1);
    const shoe = await es.exists({ index: catalogueIndex(namespace), id: 'SHOE-1|squeezenet1.1' });
    expect(shoe).toBe(false);
    await indexer.stop();
    indexer = undefined;
  });

  it('does not dead-letter again, on a reindex, what the live indexer already dead-lettered', async () => {
    const deadTopic = topicName('dead-letters', namespace);
    const deadBefore = (await collectUntil(kafka, deadTopic, () => false, 3_000)).length;
    expect(deadBefore).toBeGreaterThanOrEqual(2); // the broken and the rejected mention, above
    const mentionsBefore = await countDocs(es, namespace, 'mentions');
    await reindex(configFor(), { kafka, elasticsearch: es, logger, pollMs: 200 });
    expect(await countDocs(es, namespace, 'mentions')).toBe(mentionsBefore);
    expect((await collectUntil(kafka, deadTopic, () => false, 3_000)).length).toBe(deadBefore);
  });

  it('waits through an Elasticsearch outage of a minute and loses nothing', async () => {
    const proxy = new TcpProxy(new URL(elasticsearchUrl));
    const port = await proxy.open(0);
    const config = configFor(`http://127.0.0.1:${port}`);
    indexer = await startIndexer(config, { kafka, logger });
    const deadBefore = (await collectUntil(kafka, topicName('dead-letters', namespace), () => false, 3_000))
      .length;
    const postsBefore = await countDocs(es, namespace, 'posts');
    const alertsBefore = await countDocs(es, namespace, 'reorder-alerts');
    const uploadsCommitted = await committedOffsets(indexer.groupId, 'uploads');

    await proxy.close(); // connections to the indexer's Elasticsearch address are now refused
    const newPosts = [0, 1, 2].map((i) => ({
      ...scenario.uploads[i]!,
      eventId: `outage-evt-${i}`,
      postId: `outage-post-${i}`,
    }));
    const newAlert = {
      ...scenario.alerts[0]!,
      alertId: 'COAT-1|outage|new|P3',
      sku: 'COAT-1',
      priority: 'P3' as const,
    };
    await produceRaw(
      kafka,
      topicName('uploads', namespace),
      newPosts.map((p) => ({ key: p.postId, value: encode(Upload, p) })),
    );
    await produceRaw(kafka, topicName('reorder-alerts', namespace), [
      { key: newAlert.sku, value: encode(ReorderAlert, newAlert) },
    ]);

    await new Promise((resolve) => setTimeout(resolve, 60_000));
    // Down for a minute: nothing indexed, nothing dead-lettered, no offset committed past the gap.
    expect(indexer.elasticsearchReachable()).toBe(false);
    expect(await countDocs(es, namespace, 'posts')).toBe(postsBefore);
    expect(await committedOffsets(indexer.groupId, 'uploads')).toBe(uploadsCommitted);
    const metrics = await indexer.registry.getSingleMetricAsString(
      'trendradar_indexer_elasticsearch_waits_total',
    );
    expect(Number(/ (\d+)$/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(10);

    await proxy.open(port);
    expect(
      await waitFor(async () => (await countDocs(es, namespace, 'posts')) === postsBefore + 3, 60_000),
    ).toBe(true);
    expect(
      await waitFor(async () => (await countDocs(es, namespace, 'reorder-alerts')) === alertsBefore + 1),
    ).toBe(true);
    expect(await waitFor(() => caughtUp(config, indexer!.groupId))).toBe(true);
    expect(indexer.elasticsearchReachable()).toBe(true);
    const deadAfter = (await collectUntil(kafka, topicName('dead-letters', namespace), () => false, 3_000))
      .length;
    expect(deadAfter).toBe(deadBefore);
    await indexer.stop();
    indexer = undefined;
    await proxy.close();
  });

  it('stops promptly while Elasticsearch is away and leaves the waiting records to the next indexer', async () => {
    const proxy = new TcpProxy(new URL(elasticsearchUrl));
    const port = await proxy.open(0);
    indexer = await startIndexer(configFor(`http://127.0.0.1:${port}`), { kafka, logger });
    const postsBefore = await countDocs(es, namespace, 'posts');
    await proxy.close();
    const late = { ...scenario.uploads[3]!, eventId: 'late-evt', postId: 'late-post' };
    await produceRaw(kafka, topicName('uploads', namespace), [
      { key: late.postId, value: encode(Upload, late) },
    ]);
    expect(await waitFor(async () => !indexer!.elasticsearchReachable(), 30_000)).toBe(true);

    const stopping = Date.now();
    await indexer.stop();
    expect(Date.now() - stopping).toBeLessThan(15_000);
    indexer = undefined;
    expect(await countDocs(es, namespace, 'posts')).toBe(postsBefore);

    // The next indexer (Elasticsearch reachable again) picks the uncommitted record up.
    const config = configFor();
    indexer = await startIndexer(config, { kafka, logger });
    expect(await waitFor(async () => (await countDocs(es, namespace, 'posts')) === postsBefore + 1)).toBe(
      true,
    );
    expect(await waitFor(() => caughtUp(config, indexer!.groupId))).toBe(true);
    await indexer.stop();
    indexer = undefined;
  });
});

/** A loopback TCP proxy to Elasticsearch that can refuse connections (closed) and come back (opened). */
class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: URL) {}

  async open(port: number): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(Number(this.target.port || 9200), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
