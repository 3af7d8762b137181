/**
 * Replay copy of large records on the real broker, with the topics' default max.message.bytes
 * (1 MiB). A fetch brings up to 1 MiB of a partition; copied as one produce request, its records
 * plus the replay.* headers of each are over the limit, and the broker refuses the batch. Here
 * every source record is its own record batch of exactly 16 KiB, so a fetch brings exactly 64 of
 * them (1 MiB, no partial batch left out) and any copy that re-sends a fetch whole is refused.
 * Also: a record the target refuses fails the copy at once with the broker's reason.
 */
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBound, REPLAY_HEADERS } from '../../../services/replay/plan.ts';
import { copyRange } from '../../../services/replay/replay.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, headerText } from '../../support/kafka.ts';

const require = createRequire(import.meta.url);
/** kafkajs' own record encoder (v2 record, as the producer writes it). */
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (record: {
  key: Buffer;
  value: Buffer;
  headers: Record<string, string>;
}) => { size(): number };

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'replay-large-test' });
const namespace = uniqueNamespace('replay-large');
const topic = (name: string) => `${namespace}.${name}`;

const PARTITIONS = 3;
/** Per partition: 1.6 MiB, more than one fetch (1 MiB a partition). */
const PER_PARTITION = 100;
/** The fixed part of a v2 record batch; each source record is sent alone, so in a batch of its own. */
const BATCH_OVERHEAD = 61;
/** Bytes of each source record batch: 1 MiB is exactly 64 of them. */
const BATCH_BYTES = 16 * 1024;

const keyOf = (p: number, i: number) => `post-${p}-${String(i).padStart(4, '0')}`;
const traceOf = (p: number, i: number) => `trace-${p}-${String(i).padStart(4, '0')}`;

/** Value bytes that make a record's batch exactly BATCH_BYTES (keys and headers are of fixed width). */
const VALUE_BYTES = (() => {
  const record = (n: number) => ({
    key: Buffer.from(keyOf(0, 0)),
    value: Buffer.alloc(n),
    headers: { 'trace-id': traceOf(0, 0) },
  });
  let length = BATCH_BYTES - BATCH_OVERHEAD - 100;
  while (BATCH_OVERHEAD + encodeRecord(record(length)).size() < BATCH_BYTES) length++;
  if (BATCH_OVERHEAD + encodeRecord(record(length)).size() !== BATCH_BYTES)
    throw new Error('no value length makes a record batch of exactly BATCH_BYTES');
  return length;
})();

const payloadOf = (p: number, i: number) => Buffer.alloc(VALUE_BYTES, `${p}:${i};`);

async function createTopic(client: Kafka, name: string, config: Record<string, string> = {}) {
  const admin = client.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: name,
          numPartitions: PARTITIONS,
          configEntries: Object.entries(config).map(([key, value]) => ({ name: key, value })),
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  await createTopic(kafka, topic('embeddings'));
  await createTopic(kafka, topic('embeddings-copy'));
  // Refuses any of the source records (16 KiB each) as too large.
  await createTopic(kafka, topic('embeddings-small'), { 'max.message.bytes': '8192' });
  const producer = await connectProducer(kafka);
  try {
    // One record per send: one record batch each, as a service producing record by record leaves them.
    for (let i = 0; i < PER_PARTITION; i++)
      for (let p = 0; p < PARTITIONS; p++)
        await producer.send({
          topic: topic('embeddings'),
          acks: -1,
          messages: [
            {
              partition: p,
              key: keyOf(p, i),
              value: payloadOf(p, i),
              headers: { 'trace-id': traceOf(p, i) },
            },
          ],
        });
  } finally {
    await producer.disconnect();
  }
}, 120_000);

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin
    .deleteTopics({ topics: ['embeddings', 'embeddings-copy', 'embeddings-small'].map(topic) })
    .catch(() => undefined);
  await admin.disconnect();
});

describe('replay copy of large records', () => {
  it('copies fetches of 1 MiB: every record once, in order per partition, with its headers', async () => {
    const total = PARTITIONS * PER_PARTITION;
    const result = await copyRange(kafka, {
      source: topic('embeddings'),
      target: topic('embeddings-copy'),
      from: parseBound('earliest'),
      until: parseBound('latest'),
      idleTimeoutMs: 30_000,
    });
    expect(result.planned).toBe(total);
    expect(result.copied).toBe(total);

    const copied = await collectUntil(kafka, topic('embeddings-copy'), (r) => r.length >= total, 60_000);
    expect(copied).toHaveLength(total);
    for (let p = 0; p < PARTITIONS; p++) {
      const inPartition = copied.filter((r) => r.partition === p);
      // In the order of the source partition (same partition count: same partition), each once.
      expect(inPartition.map((r) => headerText(r.message, REPLAY_HEADERS.source))).toEqual(
        Array.from({ length: PER_PARTITION }, (_, i) => `${topic('embeddings')}/${p}/${i}`),
      );
      inPartition.forEach((record, i) => {
        expect(record.message.key?.toString()).toBe(keyOf(p, i));
        expect(record.message.value?.equals(payloadOf(p, i))).toBe(true);
        expect(headerText(record.message, 'trace-id')).toBe(traceOf(p, i));
        expect(headerText(record.message, REPLAY_HEADERS.id)).toBe(result.replayId);
        expect(Date.parse(headerText(record.message, REPLAY_HEADERS.at)!)).toBeGreaterThan(0);
      });
    }
  });

  it('fails at once with the broker’s reason when the target refuses a record, not after the no-progress timeout', async () => {
    const started = Date.now();
    const error = await copyRange(kafka, {
      source: topic('embeddings'),
      target: topic('embeddings-small'),
      from: parseBound('earliest'),
      until: parseBound('latest'),
      idleTimeoutMs: 60_000,
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/^replay copy failed at 0 of 300 offsets \(0 records copied into /);
    expect(error!.message).toContain('larger than the max message size the server will accept');
    // The broker's error, with its code, is kept as the cause.
    expect(error!.cause).toBeDefined();
    let cause: unknown = error!.cause;
    while ((cause as { cause?: unknown }).cause) cause = (cause as { cause?: unknown }).cause;
    expect((cause as { type?: string }).type).toBe('MESSAGE_TOO_LARGE');
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
