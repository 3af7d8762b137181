import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { decode, InvalidRecordError } from '../../../shared/kafka/codec.ts';
import { ConsumerRunner, eachRecord } from '../../../shared/kafka/consumer-runner.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createRegistry } from '../../../shared/observability/metrics.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, createTopics, headerText } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'runner-test' });
const namespace = uniqueNamespace('runner');
const logger = createLogger('runner-test', 'silent');
const topic = (name: string): string => `${namespace}.${name}`;
const Order = z.object({ id: z.number().int(), item: z.string() });

beforeAll(async () => {
  const plain: Array<[string, number]> = [
    ['poison.in', 2],
    ['poison.out', 1],
    ['crash.in', 3],
    ['crash.out', 1],
    ['dlq', 1],
    ['txn.in', 1],
    ['txn.out', 1],
  ];
  await createTopics(
    kafka,
    plain.map(([name, partitions]) => [topic(name), partitions]),
  );
});

describe('ConsumerRunner', () => {
  it('sends a poison record to the dead-letter topic with its headers and processes its neighbours', async () => {
    const producer = await connectProducer(kafka);
    const values = [
      JSON.stringify({ id: 1, item: 'red shoe' }),
      '{"id": 2, "item": ', // truncated JSON
      JSON.stringify({ id: 3, item: 'bag' }),
      JSON.stringify({ id: 'four', item: 'coat' }), // breaks the contract
      JSON.stringify({ id: 5, item: 'bikini' }),
      JSON.stringify({ id: 6, item: 'flaky' }), // fails twice, then succeeds
    ];
    await producer.send({
      topic: topic('poison.in'),
      acks: -1,
      messages: values.map((value) => ({ key: 'k', value })),
    });
    await producer.disconnect();

    let flakyFailures = 0;
    const runner = new ConsumerRunner({
      kafka,
      logger,
      registry: createRegistry('runner-test'),
      service: 'runner-test',
      groupId: `${namespace}-poison`,
      topics: [topic('poison.in')],
      deadLetterTopic: topic('dlq'),
      backoff: { initialMs: 50, maxMs: 200 },
      handleBatch: eachRecord(async (record) => {
        const order = decode(Order, record.value);
        if (order.item === 'flaky' && flakyFailures++ < 2) throw new Error('downstream briefly unavailable');
        return [{ topic: topic('poison.out'), key: String(order.id), value: JSON.stringify(order) }];
      }),
    });
    await runner.start();
    const outputs = await collectUntil(kafka, topic('poison.out'), (r) => r.length >= 4);
    const dead = await collectUntil(kafka, topic('dlq'), (r) => r.length >= 2);
    await runner.stop();

    expect(outputs.map((r) => r.message.key!.toString()).sort()).toEqual(['1', '3', '5', '6']);
    expect(flakyFailures).toBe(3); // two failures, then the attempt that succeeded
    expect(dead).toHaveLength(2);
    const [truncated, wrongType] = dead.map((r) => r.message);
    expect(truncated!.value!.toString()).toBe(values[1]); // the original bytes, untouched
    expect(wrongType!.value!.toString()).toBe(values[3]);
    for (const message of [truncated!, wrongType!]) {
      expect(headerText(message, 'dlq.original.topic')).toBe(topic('poison.in'));
      expect(headerText(message, 'dlq.original.partition')).toMatch(/^[01]$/);
      expect(headerText(message, 'dlq.service')).toBe('runner-test');
      expect(headerText(message, 'dlq.error.class')).toBe(InvalidRecordError.name);
      expect(Number.isNaN(Date.parse(headerText(message, 'dlq.failed.at')!))).toBe(false);
    }
    expect(headerText(truncated!, 'dlq.original.offset')).toBe('1');
    expect(headerText(truncated!, 'dlq.error')).toMatch(/not JSON/);
    expect(headerText(wrongType!, 'dlq.original.offset')).toBe('3');
    expect(headerText(wrongType!, 'dlq.error')).toMatch(/id/);
  });

  it('commits past the transaction markers of a transactional topic, to its very end', async () => {
    const producer = kafka.producer({
      transactionalId: `${namespace}-txn`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    for (let t = 0; t < 3; t++) {
      const transaction = await producer.transaction();
      await transaction.send({
        topic: topic('txn.in'),
        messages: Array.from({ length: 4 }, (_, i) => ({ key: 'k', value: `t${t}-${i}` })),
      });
      await transaction.commit();
    }
    await producer.disconnect();

    const groupId = `${namespace}-txn`;
    const registry = createRegistry('runner-test');
    const runner = new ConsumerRunner({
      kafka,
      logger,
      registry,
      service: 'runner-test',
      groupId,
      topics: [topic('txn.in')],
      deadLetterTopic: topic('dlq'),
      handleBatch: eachRecord(async (record) => [
        { topic: topic('txn.out'), key: 'k', value: record.value!.toString() },
      ]),
    });
    await runner.start();
    const admin = kafka.admin();
    await admin.connect();
    try {
      // 12 records and 3 commit markers: the end is offset 15, the last record's next offset is 14.
      const [end] = await admin.fetchTopicOffsets(topic('txn.in'));
      expect(end!.high).toBe('15');
      let committed = '';
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic('txn.in')] });
        committed = offsets!.partitions[0]!.offset;
        if (committed === end!.high) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(committed).toBe(end!.high);
      // Caught up, markers included: nothing left to process.
      const lag = async () =>
        (await registry.getSingleMetric('trendradar_consumer_lag_records')!.get()).values.map((v) => [
          v.labels.group,
          v.labels.topic,
          v.labels.partition,
          v.value,
        ]);
      // The runner sets it once the commit is acknowledged, which the admin may see a moment before.
      await expect.poll(lag, { timeout: 5_000 }).toEqual([[groupId, topic('txn.in'), '0', 0]]);
      await runner.stop();
      expect(await lag()).toEqual([]);
    } finally {
      await admin.disconnect();
      await runner.stop();
    }
  });

  it('loses nothing when the worker is killed mid-batch and restarted', async () => {
    const total = 300;
    const producer = await connectProducer(kafka);
    await producer.send({
      topic: topic('crash.in'),
      acks: -1,
      messages: Array.from({ length: total }, (_, i) => ({ key: `k${i % 17}`, value: `record-${i}` })),
    });
    await producer.disconnect();

    const workerEnv = {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers.join(','),
      GROUP_ID: `${namespace}-crash`,
      IN_TOPIC: topic('crash.in'),
      OUT_TOPIC: topic('crash.out'),
      DLQ_TOPIC: topic('dlq'),
    };
    const first = startWorker(workerEnv);
    // Let it commit a few chunks, then kill it without any chance to clean up.
    await waitForOutput(first, (out) => (out.match(/committed/g) ?? []).length >= 5);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const beforeRestart = await collectUntil(kafka, topic('crash.out'), () => false, 3_000);
    expect(beforeRestart.length).toBeGreaterThan(0);
    expect(beforeRestart.length).toBeLessThan(total);

    const second = startWorker(workerEnv);
    const outputs = await collectUntil(
      kafka,
      topic('crash.out'),
      (r) => new Set(r.map((x) => x.message.value!.toString())).size >= total,
      120_000,
    );
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));

    const distinct = new Set(outputs.map((r) => r.message.value!.toString()));
    expect(distinct.size).toBe(total);
    for (let i = 0; i < total; i++) expect(distinct.has(`record-${i}`)).toBe(true);
    // At least once: the records in flight when it died may appear twice, never more than a chunk per partition.
    expect(outputs.length - total).toBeLessThanOrEqual(3 * 10);
  });
});

function startWorker(env: NodeJS.ProcessEnv): ChildProcess & { output: string } {
  // One process (tsx as a loader, not its CLI wrapper), so SIGKILL really kills the worker.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('../../support/fixtures/relay-worker.ts', import.meta.url).pathname],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  ) as ChildProcess & { output: string };
  child.output = '';
  child.stdout!.on('data', (d) => {
    child.output += d;
  });
  child.stderr!.on('data', (d) => {
    child.output += d;
  });
  return child;
}

async function waitForOutput(
  child: ChildProcess & { output: string },
  ready: (out: string) => boolean,
): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!ready(child.output)) {
    if (child.exitCode !== null) throw new Error(`worker exited early:\n${child.output}`);
    if (Date.now() > deadline) throw new Error(`worker not ready:\n${child.output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({
    topics: (await admin.listTopics()).filter((t) => t.startsWith(`${namespace}.`)),
  });
  await admin.disconnect();
});
