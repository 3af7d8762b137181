/**
 * `trendradar_consumer_lag_records{group,topic,partition}`: the partition's high watermark minus the
 * next offset the group processes, set by the consumer runner after each chunk it commits and on a
 * fetch that held only transaction markers; a partition a rebalance took away loses its series.
 * The consumer is fake (no broker): batches and instrumentation events as kafkajs 2.2.4 hands them.
 */
import type { EachBatchPayload, Kafka, Producer } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConsumerRunner } from '../../../shared/kafka/consumer-runner.ts';
import { createRegistry, type Registry } from '../../../shared/observability/metrics.ts';
import { CONSUMER_EVENTS as EVENTS } from '../../support/kafkajs-events.ts';

interface FakeBatch {
  topic?: string;
  partition: number;
  /** Offsets of the records handed over. */
  offsets: number[];
  highWatermark: number;
  /** The fetch's last offset (past the records when transaction markers follow them). */
  lastOffset?: number;
}

function fakeKafka() {
  const listeners = new Map<string, Array<(event: { payload: unknown }) => void>>();
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const committed: Array<{ topic: string; partition: number; offset: string }> = [];
  const kafka = {
    consumer: () => ({
      events: EVENTS,
      on: (name: string, listener: (event: { payload: unknown }) => void) => {
        listeners.set(name, [...(listeners.get(name) ?? []), listener]);
        return () => {};
      },
      connect: async () => {},
      subscribe: async () => {},
      run: async (options: { eachBatch: typeof eachBatch }) => {
        eachBatch = options.eachBatch;
      },
      commitOffsets: async (offsets: typeof committed) => {
        committed.push(...offsets);
      },
      disconnect: async () => {},
    }),
  } as unknown as Kafka;
  const emit = (name: string, payload: unknown) => {
    for (const listener of listeners.get(name) ?? []) listener({ payload });
  };
  const deliver = ({ topic = 'in', partition, offsets, highWatermark, lastOffset }: FakeBatch) =>
    eachBatch!({
      batch: {
        topic,
        partition,
        highWatermark: String(highWatermark),
        messages: offsets.map((offset) => ({
          offset: String(offset),
          key: null,
          value: Buffer.from('v'),
          headers: {},
          timestamp: '1700000000000',
          attributes: 0,
        })),
        lastOffset: () => String(lastOffset ?? offsets[offsets.length - 1]),
      },
      resolveOffset: () => {},
      heartbeat: async () => {},
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  /** A fetch kafkajs does not hand to eachBatch: only transaction markers (or aborted records). */
  const fetchWithoutRecords = (partition: number, first: number, last: number, highWatermark: number) =>
    emit(EVENTS.START_BATCH_PROCESS, {
      topic: 'in',
      partition,
      highWatermark: String(highWatermark),
      offsetLag: String(highWatermark - 1 - last),
      offsetLagLow: '0',
      batchSize: 0,
      firstOffset: String(first),
      lastOffset: String(last),
    });
  const join = (memberAssignment: Record<string, number[]>) =>
    emit(EVENTS.GROUP_JOIN, { groupId: 'g', memberId: 'm', leaderId: 'm', isLeader: true, memberAssignment });
  return { kafka, committed, deliver, fetchWithoutRecords, join };
}

async function lagSeries(registry: Registry): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric('trendradar_consumer_lag_records');
  expect(metric).toBeDefined();
  const { values } = await metric!.get();
  return Object.fromEntries(
    values.map((v) => [`${v.labels.group} ${v.labels.topic}/${v.labels.partition}`, v.value]),
  );
}

async function startRunner(maxBatchSize = 500, onCommitted?: () => void) {
  const fake = fakeKafka();
  const registry = createRegistry('svc');
  const runner = new ConsumerRunner({
    kafka: fake.kafka,
    producer: { sendBatch: async () => [] } as unknown as Producer,
    service: 'svc',
    groupId: 'g',
    topics: ['in'],
    deadLetterTopic: 'dlq',
    logger: pino({ level: 'silent' }),
    registry,
    maxBatchSize,
    ...(onCommitted ? { onCommitted } : {}),
    handleBatch: async (records) => records.map(() => ({ kind: 'done' as const })),
  });
  await runner.start();
  return { ...fake, registry, runner };
}

describe('trendradar_consumer_lag_records', () => {
  it('is the high watermark minus the next offset to process, per partition, after each batch', async () => {
    const { deliver, registry, join } = await startRunner();
    join({ in: [0, 1] });
    // 10 records on partition 0 (offsets 0…9), the first 4 fetched.
    await deliver({ partition: 0, offsets: [0, 1, 2, 3], highWatermark: 10 });
    expect(await lagSeries(registry)).toEqual({ 'g in/0': 6 });
    await deliver({ partition: 1, offsets: [5, 6], highWatermark: 7 });
    await deliver({ partition: 0, offsets: [4, 5, 6, 7, 8, 9], highWatermark: 12 });
    expect(await lagSeries(registry)).toEqual({ 'g in/0': 2, 'g in/1': 0 });
  });

  it('goes down chunk by chunk within a batch (offsets are committed per chunk)', async () => {
    const snapshots: Array<Promise<Record<string, number>>> = [];
    const { deliver, registry, committed, join } = await startRunner(2, () => {
      snapshots.push(lagSeries(registry));
    });
    join({ in: [0] });
    await deliver({ partition: 0, offsets: [0, 1, 2, 3, 4], highWatermark: 5 });
    expect(committed.map((c) => c.offset)).toEqual(['2', '4', '5']);
    expect(await Promise.all(snapshots)).toEqual([{ 'g in/0': 3 }, { 'g in/0': 1 }, { 'g in/0': 0 }]);
  });

  it('counts transaction markers after the last record as processed', async () => {
    const { deliver, fetchWithoutRecords, registry, join } = await startRunner();
    join({ in: [0] });
    // Records 0…2, then a commit marker at 3: the high watermark is 4.
    await deliver({ partition: 0, offsets: [0, 1, 2], lastOffset: 3, highWatermark: 4 });
    expect(await lagSeries(registry)).toEqual({ 'g in/0': 0 });
    // Then a transaction of records 4…6 and its marker at 7: record 4 fetched alone first…
    await deliver({ partition: 0, offsets: [4], highWatermark: 8 });
    expect(await lagSeries(registry)).toEqual({ 'g in/0': 3 });
    // …then 5 and 6 (the marker left for the next fetch)…
    await deliver({ partition: 0, offsets: [5, 6], highWatermark: 8 });
    expect(await lagSeries(registry)).toEqual({ 'g in/0': 1 });
    // …then the marker alone: kafkajs hands eachBatch nothing, it only announces the fetch.
    fetchWithoutRecords(0, 7, 7, 8);
    expect(await lagSeries(registry)).toEqual({ 'g in/0': 0 });
  });

  it('drops the partitions a rebalance took away, and every partition when the runner stops', async () => {
    const { deliver, registry, join, runner } = await startRunner();
    join({ in: [0, 1, 2] });
    await deliver({ partition: 0, offsets: [0], highWatermark: 3 });
    await deliver({ partition: 1, offsets: [0], highWatermark: 4 });
    await deliver({ partition: 2, offsets: [0], highWatermark: 5 });
    expect(await lagSeries(registry)).toEqual({ 'g in/0': 2, 'g in/1': 3, 'g in/2': 4 });
    join({ in: [1] });
    expect(await lagSeries(registry)).toEqual({ 'g in/1': 3 });
    // A batch of a partition taken away, finished after the rebalance: not reported again.
    await deliver({ partition: 0, offsets: [1], highWatermark: 3 });
    expect(await lagSeries(registry)).toEqual({ 'g in/1': 3 });
    await runner.stop();
    expect(await lagSeries(registry)).toEqual({});
  });
});
