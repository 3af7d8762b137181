/**
 * How a consumer fails and how readiness tells it, against the real broker: a dead letter too
 * large for the broker is cut and sent (the consumer goes on), a consumer kafkajs crashes for good
 * is not ready and fails its service (a process run like the services exits 1), and a consumer idle
 * on an empty topic stays ready. Found by the operators' audit (poison record, zombie consumers).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { decode } from '../../../shared/kafka/codec.ts';
import { ConsumerRunner, eachRecord } from '../../../shared/kafka/consumer-runner.ts';
import { followTopics } from '../../../shared/kafka/topic-follower.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createRegistry, type Registry } from '../../../shared/observability/metrics.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, headerText } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'consumer-failure-test' });
const namespace = uniqueNamespace('consumer-failure');
const logger = createLogger('consumer-failure-test', 'silent');
const topic = (name: string): string => `${namespace}.${name}`;
const Order = z.object({ id: z.number().int(), item: z.string() });
/** What the "small" output topics accept per record batch; the outputs of the crash tests are larger. */
const SMALL_TOPIC_BYTES = 10_000;

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        ...['poison.in', 'poison.out', 'dlq', 'crash.in', 'proc.in', 'idle.in', 'follow.in'].map((name) => ({
          topic: topic(name),
          numPartitions: 1,
        })),
        ...['crash.out', 'proc.out'].map((name) => ({
          topic: topic(name),
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: String(SMALL_TOPIC_BYTES) }],
        })),
      ],
    });
  } finally {
    await admin.disconnect();
  }
});

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({
    topics: (await admin.listTopics()).filter((t) => t.startsWith(`${namespace}.`)),
  });
  await admin.disconnect();
});

async function produce(name: string, messages: Array<{ key: string; value: Buffer | string }>) {
  const producer = await connectProducer(kafka);
  try {
    await producer.send({ topic: topic(name), acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return check();
}

describe('consumer failures', () => {
  it('a record too large to dead-letter as it is goes there cut, with its headers, and the consumer goes on', async () => {
    // The audit's repro: one invalid ~1 MiB record (accepted on its topic), then small ones.
    const poison = Buffer.alloc(1_048_000, 0x61);
    await produce('poison.in', [
      { key: 'poison', value: poison },
      { key: 'small', value: 'not json' },
      { key: 'good', value: JSON.stringify({ id: 1, item: 'coat' }) },
    ]);
    const registry = createRegistry('consumer-failure-test');
    const fatal: Error[] = [];
    const runner = new ConsumerRunner({
      kafka,
      logger,
      registry,
      service: 'consumer-failure-test',
      groupId: `${namespace}-poison`,
      topics: [topic('poison.in')],
      deadLetterTopic: topic('dlq'),
      onFatal: (error) => fatal.push(error),
      handleBatch: eachRecord(async (record) => {
        const order = decode(Order, record.value);
        return [{ topic: topic('poison.out'), key: String(order.id), value: JSON.stringify(order) }];
      }),
    });
    await runner.start();
    try {
      const outputs = await collectUntil(kafka, topic('poison.out'), (r) => r.length >= 1, 60_000);
      const dead = await collectUntil(kafka, topic('dlq'), (r) => r.length >= 2, 30_000);
      expect(fatal).toEqual([]);
      expect(outputs.map((r) => r.message.key?.toString())).toEqual(['1']);
      expect(dead).toHaveLength(2);
      const [big, small] = dead.map((r) => r.message);
      expect(headerText(big!, 'dlq.value.truncated')).toBe(String(poison.length));
      expect(headerText(big!, 'dlq.original.topic')).toBe(topic('poison.in'));
      expect(headerText(big!, 'dlq.original.partition')).toBe('0');
      expect(headerText(big!, 'dlq.original.offset')).toBe('0');
      expect(headerText(big!, 'dlq.error')).toMatch(/not JSON/);
      expect(big!.key?.toString()).toBe('poison');
      expect(big!.value!.length).toBeLessThan(poison.length);
      expect(big!.value!.equals(poison.subarray(0, big!.value!.length))).toBe(true);
      expect(small!.value?.toString()).toBe('not json');
      expect(headerText(small!, 'dlq.value.truncated')).toBeUndefined();
      expect(
        await until(
          async () =>
            (await metric(registry, 'trendradar_consumer_records_total', { outcome: 'dead' })) === 2,
          10_000,
        ),
      ).toBe(true);
      expect(runner.health().ready).toBe(true);
    } finally {
      await runner.stop();
    }
  });

  it('a consumer kafkajs crashes and will not restart is not ready, and its owner is told', async () => {
    await produce('crash.in', [{ key: 'k', value: 'x' }]);
    const registry = createRegistry('consumer-failure-test');
    const groupId = `${namespace}-crash`;
    const fatal: Error[] = [];
    const runner = new ConsumerRunner({
      kafka,
      logger,
      registry,
      service: 'consumer-failure-test',
      groupId,
      topics: [topic('crash.in')],
      deadLetterTopic: topic('dlq'),
      onFatal: (error) => fatal.push(error),
      // Larger than the output topic takes: the broker refuses it for good (MESSAGE_TOO_LARGE).
      handleBatch: eachRecord(async () => [
        { topic: topic('crash.out'), key: 'k', value: Buffer.alloc(SMALL_TOPIC_BYTES * 2, 0x78) },
      ]),
    });
    await runner.start();
    try {
      expect(await until(() => fatal.length > 0, 60_000)).toBe(true);
      expect(fatal).toHaveLength(1);
      const health = runner.health();
      expect(health.ready).toBe(false);
      expect(health.reason).toMatch(/crashed for good/);
      expect(await metric(registry, 'trendradar_consumer_up', { group: groupId })).toBe(0);
    } finally {
      await runner.stop();
    }
  });

  it('a service whose consumer crashes for good exits non-zero, so that its supervisor restarts it', async () => {
    await produce('proc.in', [{ key: 'k', value: 'x' }]);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./fixtures/failing-worker.ts', import.meta.url).pathname],
      {
        env: {
          ...process.env,
          KAFKA_BROKERS: kafkaBrokers.join(','),
          GROUP_ID: `${namespace}-proc`,
          IN_TOPIC: topic('proc.in'),
          OUT_TOPIC: topic('proc.out'),
          OUT_BYTES: String(SMALL_TOPIC_BYTES * 2),
          DLQ_TOPIC: topic('dlq'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ) as ChildProcess;
    let output = '';
    child.stdout!.on('data', (d) => {
      output += d;
    });
    child.stderr!.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const code = await Promise.race([
      exited,
      new Promise<'alive'>((resolve) => setTimeout(() => resolve('alive'), 60_000)),
    ]);
    if (code === 'alive') {
      child.kill('SIGKILL');
      await exited;
    }
    expect(code, output).toBe(1);
    expect(output).toMatch(/consumer crashed and kafkajs does not restart it/);
    expect(output).toMatch(/a part of the service failed for good/);
  });

  it('a consumer idle on an empty topic stays ready; stopped, it is not', async () => {
    const registry = createRegistry('consumer-failure-test');
    const groupId = `${namespace}-idle`;
    const runner = new ConsumerRunner({
      kafka,
      logger,
      registry,
      service: 'consumer-failure-test',
      groupId,
      topics: [topic('idle.in')],
      deadLetterTopic: topic('dlq'),
      // Far shorter than the default, so that a consumer idle this long would be taken for stuck
      // if an idle consumer stopped fetching.
      stalledAfterMs: 7_000,
      handleBatch: eachRecord(async () => []),
    });
    expect(runner.health()).toEqual({ ready: false, reason: 'not started' });
    await runner.start();
    const follower = await followTopics(kafka, [topic('follow.in')], 'consumer-failure-follower', () => {}, {
      registry,
      stalledAfterMs: 7_000,
    });
    try {
      await follower.caughtUp;
      expect(await until(() => runner.health().ready && follower.health().ready, 30_000)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 15_000));
      expect(runner.health()).toEqual({ ready: true, reason: 'consuming' });
      expect(follower.health()).toEqual({ ready: true, reason: 'consuming' });
      expect(await metric(registry, 'trendradar_consumer_up', { group: groupId })).toBe(1);
      expect(await metric(registry, 'trendradar_consumer_up', { group: 'consumer-failure-follower' })).toBe(
        1,
      );
    } finally {
      await runner.stop();
      await follower.stop();
    }
    expect(runner.health()).toEqual({ ready: false, reason: 'stopped' });
    expect(follower.health()).toEqual({ ready: false, reason: 'stopped' });
    expect(await metric(registry, 'trendradar_consumer_up', { group: groupId })).toBe(0);
  });
});
