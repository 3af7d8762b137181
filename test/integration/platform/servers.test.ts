import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Interaction } from '../../../shared/contracts/events.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { decode, encode } from '../../../shared/kafka/codec.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { LocalStack } from '../../../shared/stack/local-stack.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil } from '../../support/kafka.ts';

const { kafkaBrokers, elasticsearchUrl } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'platform-test' });
const namespace = uniqueNamespace('platform');

describe('the real servers', () => {
  beforeAll(async () => {
    await applyTopics(kafka, { namespace });
  });

  it('produces to and consumes from the real Kafka broker with the topic contract', async () => {
    const topic = topicName('interactions', namespace);
    const producer = await connectProducer(kafka);
    const events = Array.from({ length: 20 }, (_, i) => ({
      eventId: `ev-${i}`,
      type: 'like' as const,
      postId: `post-${i % 4}`,
      memberId: `member-${i}`,
      timestamp: new Date(Date.UTC(2026, 2, 1, 12, 0, i)).toISOString(),
      receivedAt: new Date().toISOString(),
      source: 'test',
    }));
    await producer.send({
      topic,
      acks: -1,
      messages: events.map((e) => ({ key: e.postId, value: encode(Interaction, e) })),
    });
    await producer.disconnect();

    const records = await collectUntil(kafka, topic, (r) => r.length >= events.length);
    const received = records.map((r) => decode(Interaction, r.message.value));
    expect(received.map((e) => e.eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    // Keyed by post: one post's interactions all sit in one partition.
    const partitionsByPost = new Map<string, Set<number>>();
    for (const r of records) {
      const post = r.message.key!.toString();
      partitionsByPost.set(post, (partitionsByPost.get(post) ?? new Set()).add(r.partition));
    }
    for (const partitions of partitionsByPost.values()) expect(partitions.size).toBe(1);
  });

  it('indexes into and searches the real Elasticsearch', async () => {
    const es = createElasticsearch(elasticsearchUrl);
    const index = `${namespace}-smoke`;
    await es.indices.create({
      index,
      mappings: { properties: { caption: { type: 'text' }, sku: { type: 'keyword' }, at: { type: 'date' } } },
    });
    try {
      await es.bulk({
        refresh: true,
        operations: [
          { index: { _index: index, _id: '1' } },
          { caption: 'Red shoes in Milan', sku: 'AQ-WILD-RED', at: '2026-03-01T10:00:00Z' },
          { index: { _index: index, _id: '2' } },
          { caption: 'Black bag at the beach', sku: 'BAG-01', at: '2026-03-01T11:00:00Z' },
        ],
      });
      const result = await es.search<{ sku: string }>({ index, query: { match: { caption: 'shoes' } } });
      expect(result.hits.hits.map((h) => h._source?.sku)).toEqual(['AQ-WILD-RED']);
      const nodes = await es.nodes.info({ node_id: '_local', filter_path: 'nodes.*.version' });
      expect(Object.values(nodes.nodes).map((n) => n.version)).toEqual(['8.19.7']);
    } finally {
      await es.indices.delete({ index });
      await es.close();
    }
  });
});

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({
    topics: (await admin.listTopics()).filter((t) => t.startsWith(`${namespace}.`)),
  });
  await admin.disconnect();
});

describe('stack status', () => {
  it("reports what answers: Elasticsearch's own version, no version for a broker this home did not start", async () => {
    const home = mkdtempSync(join(tmpdir(), 'status-home-'));
    const options = (kafkaPort: number, elasticsearchPort: number) =>
      new LocalStack({
        home,
        kafkaPort,
        elasticsearchPort,
        kafkaHeap: '256m',
        elasticsearchHeap: '256m',
        log: () => {},
      });
    const running = await options(
      Number(kafkaBrokers[0]!.split(':')[1]),
      Number(new URL(elasticsearchUrl).port),
    ).status();
    expect(running.map((c) => [c.name, c.answering, c.owner, c.version])).toEqual([
      ['kafka', true, 'external', null],
      ['elasticsearch', true, 'external', '8.19.7'],
    ]);
    const nothing = await options(1, 2).status();
    expect(nothing.map((c) => [c.answering, c.version])).toEqual([
      [false, null],
      [false, null],
    ]);
  });
});
