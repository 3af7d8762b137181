import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProduceBatcher } from '../../../services/ingest/produce-batcher.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'batcher-test' });
const namespace = uniqueNamespace('batcher');
const topic = topicName('interactions', namespace);

beforeAll(async () => {
  await applyTopics(kafka, { namespace, specs: [topicSpec('interactions')] });
});

describe('ProduceBatcher on the real broker', () => {
  const sends: number[] = [];
  let producer: Awaited<ReturnType<typeof connectProducer>>;

  beforeAll(async () => {
    producer = await connectProducer(kafka);
  });
  afterAll(async () => {
    await producer.disconnect();
  });

  it('groups concurrent requests into few sends and settles each once its records are acknowledged', async () => {
    const batcher = new ProduceBatcher(producer, {
      lingerMs: 0,
      maxRecords: 1_000,
      maxBatchBytes: 900_000,
      onSend: (n) => sends.push(n),
    });
    const requests = Array.from({ length: 60 }, (_, r) =>
      Array.from({ length: 25 }, (_, i) => ({ topic, message: { key: `post-${r}`, value: `${r}:${i}` } })),
    );
    const settled = await Promise.allSettled(requests.map((records) => batcher.produce(records)));
    expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
    expect(sends.reduce((a, b) => a + b, 0)).toBe(1_500);
    // 1,500 records, at most 1,000 per send: far fewer sends than requests.
    expect(sends.length).toBeLessThanOrEqual(10);
    expect(Math.max(...sends)).toBeLessThanOrEqual(1_000);
    const records = await collectUntil(kafka, topic, (r) => r.length >= 1_500, 30_000);
    expect(new Set(records.map((r) => r.message.value!.toString())).size).toBe(1_500);
    // Order within a request (same key, same partition) is kept.
    const ofRequest7 = records
      .filter((r) => r.message.key!.toString() === 'post-7')
      .map((r) => r.message.value!.toString());
    expect(ofRequest7).toEqual(Array.from({ length: 25 }, (_, i) => `7:${i}`));
  });

  it('rejects the requests of a failed send and keeps serving the next ones', async () => {
    const batcher = new ProduceBatcher(producer, { lingerMs: 0, maxRecords: 1_000, maxBatchBytes: 900_000 });
    const failing = batcher.produce([
      { topic: `${namespace}.does-not-exist.v1`, message: { key: 'k', value: 'v' } },
    ]);
    await expect(failing).rejects.toThrow();
    await expect(
      batcher.produce([{ topic, message: { key: 'after', value: 'ok' } }]),
    ).resolves.toBeUndefined();
    await batcher.flush();
  });
});
