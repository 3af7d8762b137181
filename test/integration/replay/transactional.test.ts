/**
 * Replay copy of a topic written in Kafka transactions (like reorder-alerts and trend-windows),
 * on the real broker: every transaction ends with a commit marker, which occupies an offset but is
 * never handed to eachBatch, and with a tiny fetch size a fetch can hold nothing but that marker.
 * The copy must still finish, with exactly the committed records, once.
 */
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBound } from '../../../services/replay/plan.ts';
import { copyRange } from '../../../services/replay/replay.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, createTopics, headerText } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'replay-txn-test' });
const namespace = uniqueNamespace('replay-txn');
const topic = (name: string) => `${namespace}.${name}`;
const TRANSACTIONS = 6;
const PER_TRANSACTION = 5;
/** Committed records, by value; transaction 3 is aborted and must not be copied. */
const committed: string[] = [];

beforeAll(async () => {
  await createTopics(kafka, [
    [topic('alerts'), 2],
    [topic('alerts-copy'), 2],
    [topic('alerts-again'), 2],
  ]);
  const producer = kafka.producer({
    transactionalId: `${namespace}-writer`,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  for (let t = 0; t < TRANSACTIONS; t++) {
    const transaction = await producer.transaction();
    const values = Array.from({ length: PER_TRANSACTION }, (_, i) => `t${t}-r${i}`);
    // One request per record: several record batches per transaction, so fetches split there too.
    for (const [i, value] of values.entries()) {
      await transaction.send({
        topic: topic('alerts'),
        acks: -1,
        messages: [{ key: `sku-${i % 3}`, value, headers: { n: String(t * 10 + i) } }],
      });
    }
    if (t === 3) await transaction.abort();
    else {
      await transaction.commit();
      committed.push(...values);
    }
  }
  await producer.disconnect();
});

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({
    topics: [topic('alerts'), topic('alerts-copy'), topic('alerts-again')],
  });
  await admin.disconnect();
});

const values = (records: Array<{ message: KafkaMessage }>) =>
  records.map((r) => r.message.value!.toString()).sort();

describe('replay copy of a transactional topic', () => {
  it('the log ends with commit markers: the end offsets are past the last record', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic('alerts'));
    await admin.disconnect();
    const total = offsets.reduce((sum, p) => sum + Number(p.high), 0);
    // 30 records written (5 aborted) plus at least one marker per transaction and partition used.
    expect(total).toBeGreaterThan(TRANSACTIONS * PER_TRANSACTION + TRANSACTIONS);
  });

  it('copies exactly the committed records, one fetch per record batch, and finishes', async () => {
    const result = await copyRange(kafka, {
      source: topic('alerts'),
      target: topic('alerts-copy'),
      from: parseBound('earliest'),
      until: parseBound('latest'),
      // Far below one record batch: every fetch returns a single batch, so the last fetch of each
      // partition holds only the final commit marker.
      maxBytesPerPartition: 16,
      idleTimeoutMs: 20_000,
    });
    expect(result.copied).toBe(committed.length);
    const copied = await collectUntil(
      kafka,
      topic('alerts-copy'),
      (r) => r.length >= committed.length,
      20_000,
    );
    // Give a duplicate the chance to show up.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const again = await collectUntil(kafka, topic('alerts-copy'), () => false, 5_000);
    expect(values(copied)).toEqual([...committed].sort());
    expect(values(again)).toEqual([...committed].sort());
    for (const record of again) {
      expect(headerText(record.message, 'replay.id')).toBe(result.replayId);
      expect(headerText(record.message, 'n')).toMatch(/^\d+$/);
    }
  });

  it('copies with the default fetch size too', async () => {
    const result = await copyRange(kafka, {
      source: topic('alerts'),
      target: topic('alerts-again'),
      from: parseBound('earliest'),
      until: parseBound('latest'),
      idleTimeoutMs: 20_000,
    });
    expect(result.copied).toBe(committed.length);
    const copied = await collectUntil(kafka, topic('alerts-again'), () => false, 5_000);
    expect(values(copied)).toEqual([...committed].sort());
  });
});
