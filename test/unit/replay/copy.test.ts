/**
 * copyRange against a simulated consumer that hands out batches the way kafkajs 2.2.4 does (its
 * own Batch class): a fetch holding only transaction markers never reaches eachBatch and is
 * announced by a START_BATCH_PROCESS event with batchSize 0. The real-broker counterpart is
 * test/integration/replay/transactional.test.ts.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Kafka, Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { parseBound } from '../../../services/replay/plan.ts';
import { copyRange } from '../../../services/replay/replay.ts';
import { MAX_PRODUCE_REQUEST_BYTES } from '../../../shared/kafka/record-size.ts';

const require = createRequire(import.meta.url);
const Batch = require('kafkajs/src/consumer/batch.js') as new (
  topic: string,
  fetchedOffset: string,
  data: { partition: number; highWatermark: string; messages: unknown[]; abortedTransactions: unknown[] },
) => {
  isEmpty(): boolean;
  isEmptyDueToFiltering(): boolean;
  messages: unknown[];
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
};

interface Raw {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  isControlRecord: boolean;
  attributes: number;
}

const record = (offset: number, control = false, valueBytes = 0): Raw => ({
  offset: String(offset),
  timestamp: String(1_700_000_000_000 + offset),
  key: Buffer.from(`k${offset}`),
  value: control ? null : Buffer.from(`v${offset}`.padEnd(valueBytes, '.')),
  headers: {},
  isControlRecord: control,
  attributes: 0,
});

/**
 * One partition holding `log`; each fetch returns the raw records of the next slice of `fetches`
 * (offsets [from, to)), from the position the previous batch left (as kafkajs does). With `crash`,
 * the consumer crashes instead of handing out the first batch (kafkajs emits CRASH, having
 * stopped the consumer; with `restart` it would start it again).
 */
function fakeKafka(log: Raw[], fetches: Array<[number, number]>, crash?: { error: Error; restart: boolean }) {
  const high = String(log.length);
  const sent: Message[][] = [];
  const heartbeats = { count: 0 };
  const kafka = {
    admin: () => ({
      connect: async () => {},
      disconnect: async () => {},
      listTopics: async () => ['src', 'dst'],
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
        topics: topics.map((name) => ({ name, partitions: [{}] })),
      }),
      fetchTopicOffsets: async () => [{ partition: 0, low: '0', high, offset: high }],
      deleteGroups: async () => {},
    }),
    producer: () => ({
      connect: async () => {},
      disconnect: async () => {},
      send: async ({ messages }: { messages: Message[] }) => {
        sent.push(messages);
      },
    }),
    consumer: () => {
      const emitter = new EventEmitter();
      let eachBatch: (payload: unknown) => Promise<void>;
      let paused = false;
      let running = true;
      const fetchLoop = async () => {
        for (const [from, to] of fetches) {
          if (paused || !running) return;
          const batch = new Batch('src', String(from), {
            partition: 0,
            highWatermark: high,
            messages: log.slice(from, to),
            abortedTransactions: [],
          });
          const payload = {
            topic: 'src',
            partition: 0,
            highWatermark: high,
            offsetLag: batch.offsetLag(),
            offsetLagLow: batch.offsetLagLow(),
            batchSize: batch.messages.length,
            firstOffset: batch.firstOffset(),
            lastOffset: batch.lastOffset(),
          };
          if (batch.isEmptyDueToFiltering()) {
            emitter.emit('consumer.start_batch_process', { payload });
            continue;
          }
          if (batch.isEmpty()) continue;
          if (crash) {
            running = false;
            emitter.emit('consumer.crash', { payload: { ...crash, groupId: 'replay' } });
            return;
          }
          emitter.emit('consumer.start_batch_process', { payload });
          await eachBatch({
            batch,
            heartbeat: async () => {
              heartbeats.count++;
            },
            isRunning: () => running,
            resolveOffset: () => {},
          });
        }
      };
      return {
        events: { START_BATCH_PROCESS: 'consumer.start_batch_process', CRASH: 'consumer.crash' },
        on: (event: string, listener: (e: unknown) => void) => emitter.on(event, listener),
        connect: async () => {},
        disconnect: async () => {
          running = false;
        },
        subscribe: async () => {},
        run: async (options: { eachBatch: typeof eachBatch }) => {
          eachBatch = options.eachBatch;
        },
        pause: () => {
          paused = true;
        },
        seek: () => {
          setTimeout(() => void fetchLoop(), 5);
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, sent, heartbeats };
}

const all = { source: 'src', target: 'dst', from: parseBound('earliest'), until: parseBound('latest') };
const copiedValues = (sent: Message[][]) => sent.flat().map((m) => String(m.value));

describe('copyRange on a topic written in transactions', () => {
  // Transaction A: records 0..4, commit marker 5; transaction B: records 6..9, commit marker 10.
  const log = Array.from({ length: 11 }, (_, o) => record(o, o === 5 || o === 10));
  const data = [0, 1, 2, 3, 4, 6, 7, 8, 9].map((o) => `v${o}`);

  it('finishes when the last fetch holds only the final commit marker', async () => {
    const { kafka, sent } = fakeKafka(log, [
      [0, 5],
      [5, 10],
      [10, 11],
    ]);
    const progress: number[] = [];
    const result = await copyRange(kafka, {
      ...all,
      idleTimeoutMs: 2_000,
      onProgress: (done) => progress.push(done),
    });
    expect(result.copied).toBe(9);
    expect(copiedValues(sent)).toEqual(data);
    expect(progress.at(-1)).toBe(11);
  });

  it('passes markers at the end of a batch, and marker-only fetches in the middle', async () => {
    const { kafka, sent } = fakeKafka(log, [
      [0, 5],
      [5, 6],
      [6, 11],
    ]);
    const result = await copyRange(kafka, { ...all, idleTimeoutMs: 2_000 });
    expect(result.copied).toBe(9);
    expect(copiedValues(sent)).toEqual(data);
  });

  it('one fetch per record batch, as with a tiny fetch size', async () => {
    const { kafka, sent } = fakeKafka(
      log,
      log.map((_, o) => [o, o + 1] as [number, number]),
    );
    const result = await copyRange(kafka, { ...all, idleTimeoutMs: 2_000 });
    expect(result.copied).toBe(9);
    expect(copiedValues(sent)).toEqual(data);
  });
});

describe('copyRange with a low rate', () => {
  it('moves progress per produce request and heartbeats while waiting, so a long batch does not time out', async () => {
    const N = 300;
    const log = Array.from({ length: N }, (_, o) => record(o));
    const { kafka, sent, heartbeats } = fakeKafka(log, [[0, N]]);
    const progress: number[] = [];
    const started = Date.now();
    // The batch needs ~2 s at 100 records/s (the first 100 go at once); the watchdog allows 1.5 s
    // without progress: it passes only because progress moves with every produce request.
    const result = await copyRange(kafka, {
      ...all,
      ratePerSecond: 100,
      idleTimeoutMs: 1_500,
      onProgress: (done) => progress.push(done),
    });
    expect(result.copied).toBe(N);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(Math.max(...sent.map((chunk) => chunk.length))).toBeLessThanOrEqual(100);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toBe(N);
    expect(heartbeats.count).toBeGreaterThanOrEqual(3);
  });
});

describe('copyRange with large records', () => {
  it('cuts a fetch into produce requests under the size limit, records in order', async () => {
    // 300 records of 20 KB in one fetch (as from a source whose batches are larger than 1 MiB): one
    // request by count (500) would be 6 MB, which a topic with the default max.message.bytes refuses.
    const N = 300;
    const log = Array.from({ length: N }, (_, o) => record(o, false, 20_000));
    const { kafka, sent } = fakeKafka(log, [[0, N]]);
    const result = await copyRange(kafka, { ...all, idleTimeoutMs: 2_000 });
    expect(result.copied).toBe(N);
    expect(sent.length).toBeGreaterThanOrEqual(7);
    for (const request of sent) {
      const bytes = request.reduce(
        (sum, m) =>
          sum +
          String(m.key).length +
          (m.value as Buffer).length +
          Object.entries(m.headers ?? {}).reduce((h, [k, v]) => h + k.length + String(v).length, 0),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(MAX_PRODUCE_REQUEST_BYTES);
    }
    expect(sent.flat().map((m) => String(m.key))).toEqual(log.map((r) => String(r.key)));
  });
});

describe('copyRange when the consumer crashes', () => {
  const log = Array.from({ length: 10 }, (_, o) => record(o));
  const tooLarge = () => {
    const cause = Object.assign(
      new Error('The request included a message larger than the max message size the server will accept'),
      { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false },
    );
    return Object.assign(new Error(cause.message, { cause }), { name: 'KafkaJSNonRetriableError' });
  };

  it('fails at once with the underlying error when kafkajs does not restart the consumer', async () => {
    const error = tooLarge();
    const { kafka } = fakeKafka(log, [[0, 10]], { error, restart: false });
    const started = Date.now();
    const failure = await copyRange(kafka, { ...all, idleTimeoutMs: 30_000 }).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe(
      'replay copy failed at 0 of 10 offsets (0 records copied into dst): ' +
        'The request included a message larger than the max message size the server will accept',
    );
    expect((failure as Error).cause).toBe(error);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('names the last crash when a restarted consumer then makes no progress', async () => {
    const { kafka } = fakeKafka(log, [[0, 10]], { error: tooLarge(), restart: true });
    await expect(copyRange(kafka, { ...all, idleTimeoutMs: 1_500 })).rejects.toThrow(
      /^replay made no progress for 1500 ms \(at 0 of 10 offsets\); the consumer last crashed with: The request included a message larger/,
    );
  });
});

describe('copyRange re-driving dead letters', () => {
  /** A dead letter (at its own offset) of `original` = [topic, partition, offset], written by `service`. */
  const letter = (offset: number, service: string | undefined, original: Array<string | undefined>): Raw => {
    const [topic, partition, at] = original;
    const headers: Record<string, Buffer> = {};
    const set = (name: string, value: string | undefined) => {
      if (value !== undefined) headers[name] = Buffer.from(value);
    };
    set('dlq.service', service);
    set('dlq.original.topic', topic);
    set('dlq.original.partition', partition);
    set('dlq.original.offset', at);
    return { ...record(offset), headers };
  };
  // The audited case: every bad upload is dead-lettered by the embedder and by the indexer.
  const log = [
    letter(0, 'embedder', ['up', '0', '5']),
    letter(1, 'indexer', ['up', '0', '5']),
    letter(2, 'embedder', ['up', '0', '6']),
    letter(3, 'indexer', ['up', '0', '6']),
    // Same offset, another partition: another record.
    letter(4, 'indexer', ['up', '1', '5']),
    // Without partition and offset the original cannot be told apart: copied as before.
    letter(5, undefined, ['up', undefined, undefined]),
    letter(6, undefined, ['up', undefined, undefined]),
    letter(7, 'indexer', ['mentions', '0', '5']),
    // A rewound group dead-lettered the first record again, later.
    letter(8, 'indexer', ['up', '0', '5']),
  ];
  // One fetch per dead letter: duplicates are found across batches, for the whole run.
  const fetches = log.map((_, o) => [o, o + 1] as [number, number]);

  it('puts each original record back once, and counts the other dead letters of it', async () => {
    const { kafka, sent } = fakeKafka(log, fetches);
    const result = await copyRange(kafka, { ...all, originalTopic: 'up', idleTimeoutMs: 2_000 });
    expect(copiedValues(sent)).toEqual(['v0', 'v2', 'v4', 'v5', 'v6']);
    expect(result).toMatchObject({ copied: 5, duplicates: 3, filtered: 1, incomplete: 0, skipped: 0 });
  });

  it("with service, keeps only that service's dead letters", async () => {
    const { kafka, sent } = fakeKafka(log, fetches);
    const result = await copyRange(kafka, {
      ...all,
      originalTopic: 'up',
      service: 'indexer',
      idleTimeoutMs: 2_000,
    });
    // 8 is the indexer's second dead letter of up/0/5 (after a rewind): still a duplicate.
    expect(copiedValues(sent)).toEqual(['v1', 'v3', 'v4']);
    expect(result).toMatchObject({ copied: 3, duplicates: 1, filtered: 5 });
  });

  it('copies every dead letter when not re-driving (no originalTopic)', async () => {
    const { kafka, sent } = fakeKafka(log, [[0, log.length]]);
    const result = await copyRange(kafka, { ...all, idleTimeoutMs: 2_000 });
    expect(result).toMatchObject({ copied: log.length, duplicates: 0, filtered: 0 });
    expect(sent.flat()).toHaveLength(log.length);
  });
});
