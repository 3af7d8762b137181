/**
 * Replay on the real broker: a copied range reproduces the source records (keys, values, headers,
 * timestamps, partitions) with replay.* headers; offsets ranges, dry runs, refusals and group resets.
 */
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBound } from '../../../services/replay/plan.ts';
import { applyReset, copyRange, planReset } from '../../../services/replay/replay.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { type Collected, collectUntil, createTopics, headerText } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'replay-test' });
const namespace = uniqueNamespace('replay');
const topic = (name: string) => `${namespace}.${name}`;
const HOUR = 3_600_000;
// Recent timestamps: the topics keep the broker's default retention, and records older than that
// are deleted by time (a fixed date in the past made the log vanish mid-test).
const base = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;
const RECORDS = 60;
let source: Collected[];

const identity = (m: KafkaMessage) => ({
  key: m.key?.toString(),
  value: m.value?.toString(),
  timestamp: m.timestamp,
  trace: headerText(m, 'trace-id'),
});

beforeAll(async () => {
  await createTopics(kafka, [
    [topic('uploads'), 3],
    [topic('uploads-copy'), 3],
    [topic('uploads-single'), 1],
    [topic('uploads-dry'), 3],
  ]);
  const producer = await connectProducer(kafka);
  // One record every 5 minutes over five hours, event time as the record timestamp.
  await producer.send({
    topic: topic('uploads'),
    acks: -1,
    messages: Array.from({ length: RECORDS }, (_, i) => ({
      key: `post-${i % 20}`,
      value: JSON.stringify({ i, caption: `look ${i}` }),
      timestamp: String(base + i * 5 * 60_000),
      headers: { 'trace-id': `t-${i}` },
    })),
  });
  await producer.disconnect();
  source = await collectUntil(kafka, topic('uploads'), (r) => r.length >= RECORDS);
});

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteGroups([`${namespace}-service`]).catch(() => undefined);
  await admin.disconnect();
});

describe('replay copy', () => {
  it('reproduces one hour of records exactly, with replay headers naming the source', async () => {
    const from = base + HOUR;
    const until = base + 2 * HOUR;
    const progress: number[] = [];
    const result = await copyRange(kafka, {
      source: topic('uploads'),
      target: topic('uploads-copy'),
      from: parseBound(new Date(from).toISOString()),
      until: parseBound(new Date(until).toISOString()),
      onProgress: (done) => progress.push(done),
    });
    const expected = source.filter(
      (r) => Number(r.message.timestamp) >= from && Number(r.message.timestamp) < until,
    );
    expect(expected).toHaveLength(12);
    expect(result.copied).toBe(12);
    expect(progress.at(-1)).toBe(result.planned);

    const copied = await collectUntil(kafka, topic('uploads-copy'), (r) => r.length >= 12, 30_000);
    expect(copied).toHaveLength(12);
    const sortByTrace = (a: { trace?: string }, b: { trace?: string }) => a.trace!.localeCompare(b.trace!);
    expect(copied.map((r) => identity(r.message)).sort(sortByTrace)).toEqual(
      expected.map((r) => identity(r.message)).sort(sortByTrace),
    );
    for (const record of copied) {
      const origin = headerText(record.message, 'replay.source')!;
      const [, partition, offset] = /\/(\d+)\/(\d+)$/.exec(origin)!;
      const original = source.find((r) => r.partition === Number(partition) && r.message.offset === offset)!;
      expect(identity(original.message)).toEqual(identity(record.message));
      expect(record.partition).toBe(original.partition); // same partition count: same partition
      expect(origin.startsWith(`${topic('uploads')}/`)).toBe(true);
      expect(headerText(record.message, 'replay.id')).toBe(result.replayId);
      expect(Date.parse(headerText(record.message, 'replay.at')!)).toBeGreaterThan(0);
    }
  });

  it('copies an offset range of every partition into a topic with another partition count', async () => {
    const result = await copyRange(kafka, {
      source: topic('uploads'),
      target: topic('uploads-single'),
      from: parseBound('2'),
      until: parseBound('5'),
    });
    const expected = source.filter((r) => BigInt(r.message.offset) >= 2n && BigInt(r.message.offset) < 5n);
    expect(expected).toHaveLength(9);
    expect(result.copied).toBe(9);
    const copied = await collectUntil(kafka, topic('uploads-single'), (r) => r.length >= 9, 30_000);
    expect(copied.map((r) => identity(r.message).trace).sort()).toEqual(
      expected.map((r) => identity(r.message).trace).sort(),
    );
  });

  it('writes nothing on a dry run, refuses to copy a topic into itself or into a missing topic', async () => {
    const dry = await copyRange(kafka, {
      source: topic('uploads'),
      target: topic('uploads-dry'),
      from: parseBound('earliest'),
      until: parseBound('latest'),
      dryRun: true,
    });
    expect(dry.planned).toBe(RECORDS);
    expect(dry.copied).toBe(0);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic('uploads-dry'));
    await admin.disconnect();
    expect(offsets.every((p) => p.high === '0')).toBe(true);

    const into = (target: string) =>
      copyRange(kafka, {
        source: topic('uploads'),
        target,
        from: parseBound('earliest'),
        until: parseBound('latest'),
      });
    await expect(into(topic('uploads'))).rejects.toThrow(/into itself/);
    await expect(into(topic('no-such-topic'))).rejects.toThrow(/does not exist/);
  });

  it('rate-limits the copy', async () => {
    const started = Date.now();
    const result = await copyRange(kafka, {
      source: topic('uploads'),
      target: topic('uploads-dry'),
      from: parseBound('0'),
      until: parseBound('7'),
      ratePerSecond: 10,
    });
    expect(result.copied).toBe(21);
    // 10 records may go at once; the other 11 need at least 1.1 s at 10 a second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_100);
  });
});

describe('consumer group reset', () => {
  const group = `${namespace}-service`;

  it('moves an idle group to a timestamp, and refuses while its service runs', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const high = await admin.fetchTopicOffsets(topic('uploads'));
    // The "service" has read everything.
    await admin.setOffsets({
      groupId: group,
      topic: topic('uploads'),
      partitions: high.map((p) => ({ partition: p.partition, offset: p.high })),
    });

    const to = parseBound(new Date(base + 4 * HOUR).toISOString());
    const plan = await planReset(kafka, { group, topic: topic('uploads'), to });
    expect(plan.live).toBe(true);
    expect(plan.refusal).toBeUndefined();
    const rereads = plan.partitions.reduce((sum, p) => sum + Number(p.delta), 0);
    expect(rereads).toBe(source.filter((r) => Number(r.message.timestamp) >= base + 4 * HOUR).length);

    const running = kafka.consumer({ groupId: group });
    await running.connect();
    await running.subscribe({ topic: topic('uploads') });
    await running.run({ eachMessage: async () => {} });
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const blocked = await planReset(kafka, { group, topic: topic('uploads'), to });
    expect(blocked.refusal).toMatch(/running member/);
    await expect(applyReset(kafka, blocked)).rejects.toThrow(/stop the service first/);
    await running.disconnect();

    await applyReset(kafka, plan);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic('uploads')] });
    await admin.disconnect();
    expect(
      committed!.partitions.map((p) => [p.partition, p.offset]).sort((a, b) => Number(a[0]) - Number(b[0])),
    ).toEqual(plan.partitions.map((p) => [p.partition, p.target.toString()]));
  });
});
