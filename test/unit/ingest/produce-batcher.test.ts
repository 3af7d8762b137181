import { createRequire } from 'node:module';
import type { Message, ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  ProduceBatcher,
  ProduceTimeoutError,
  RecordTooLargeError,
  type TopicRecord,
} from '../../../services/ingest/produce-batcher.ts';
import { recordHeaders } from '../../../services/ingest/record-headers.ts';
import { encodedRecordSize, RECORD_BATCH_OVERHEAD } from '../../../shared/kafka/record-size.ts';

// kafkajs's own record batch encoder: the bytes the broker compares with max.message.bytes.
const require = createRequire(import.meta.url);
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (record: object) => unknown;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (batch: object) => Promise<{ size(): number }>;
};

async function encodedBatchBytes(messages: Message[]): Promise<number> {
  const first = Number(messages[0]!.timestamp);
  const batch = await RecordBatch({
    records: messages.map((message, i) =>
      Record({ ...message, offsetDelta: i, timestampDelta: Number(message.timestamp) - first }),
    ),
    firstTimestamp: first,
    maxTimestamp: first,
    lastOffsetDelta: messages.length - 1,
  });
  return batch.size();
}

/** 1,000 comments on one viral post, as the interactions route builds them (929 KB of JSON). */
function viralComments(count: number, requestId = 'r'.repeat(128)): TopicRecord[] {
  const headers = recordHeaders('interactions', 'phone-app', requestId);
  return Array.from({ length: count }, (_, i) => ({
    topic: 'trendradar.interactions.v1',
    message: {
      key: 'viral-post',
      value: JSON.stringify({
        eventId: `evt-${i}`,
        type: 'comment',
        postId: 'viral-post',
        memberId: `m-${i}`,
        timestamp: new Date(1_767_000_000_000 - i * 997).toISOString(),
        comment: 'ü'.repeat(400),
        receivedAt: '2026-01-01T00:00:00.000Z',
        source: 'phone-app',
      }),
      headers,
      timestamp: String(1_767_000_000_000 - i * 997),
    },
  }));
}

function recordingProducer(fail?: (send: number) => Error | undefined) {
  const sends: ProducerBatch[] = [];
  return {
    sends,
    producer: {
      sendBatch: async (batch: ProducerBatch) => {
        sends.push(batch);
        const error = fail?.(sends.length);
        if (error) throw error;
        return [];
      },
    },
  };
}

const valuesOf = (send: ProducerBatch) => send.topicMessages!.flatMap((t) => t.messages.map((m) => m.value));

describe('encodedRecordSize', () => {
  it('is never below what kafkajs encodes, and close to it', async () => {
    const records = viralComments(200).map((r) => r.message);
    const estimate = RECORD_BATCH_OVERHEAD + records.reduce((sum, m) => sum + encodedRecordSize(m), 0);
    const actual = await encodedBatchBytes(records);
    expect(estimate).toBeGreaterThanOrEqual(actual);
    expect(estimate).toBeLessThan(actual * 1.05);
  });
});

describe('ProduceBatcher splits by encoded bytes', () => {
  it('sends a request too large for one batch as several sends, in order, each under the limit', async () => {
    const { sends, producer } = recordingProducer();
    const maxBatchBytes = 900_000;
    const batcher = new ProduceBatcher(producer, { lingerMs: 0, maxRecords: 5_000, maxBatchBytes });
    const records = viralComments(1_000);
    // One partition's worth (one key) that the broker would refuse as one batch (over 1 MiB).
    expect(await encodedBatchBytes(records.map((r) => r.message))).toBeGreaterThan(1_048_588);

    await batcher.produce(records);

    expect(sends.length).toBeGreaterThan(1);
    for (const send of sends) {
      expect(send.acks).toBe(-1);
      for (const { messages } of send.topicMessages!) {
        expect(await encodedBatchBytes(messages)).toBeLessThanOrEqual(maxBatchBytes);
      }
    }
    expect(sends.flatMap(valuesOf)).toEqual(records.map((r) => r.message.value));
  });

  it('keeps small concurrent requests in one send', async () => {
    const { sends, producer } = recordingProducer();
    const batcher = new ProduceBatcher(producer, { lingerMs: 0, maxRecords: 5_000, maxBatchBytes: 900_000 });
    await Promise.all([batcher.produce(viralComments(10)), batcher.produce(viralComments(10))]);
    expect(sends).toHaveLength(1);
  });

  it('settles each request with the send holding its last record; a failed send fails only what it and later sends carry', async () => {
    const broken = new Error('NOT_ENOUGH_REPLICAS');
    const { sends, producer } = recordingProducer((n) => (n === 2 ? broken : undefined));
    const batcher = new ProduceBatcher(producer, { lingerMs: 0, maxRecords: 5_000, maxBatchBytes: 300_000 });
    const small = viralComments(50);
    const large = viralComments(600);
    const after = viralComments(50);
    const outcomes = await Promise.allSettled([
      batcher.produce(small),
      batcher.produce(large),
      batcher.produce(after),
    ]);
    // small completes in send 1, which is acknowledged; large spans sends 1-3 and after is in send 3.
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBe(broken);
    // Nothing is sent after the failed send; the client re-sends those requests.
    expect(sends).toHaveLength(2);
    expect(batcher.waiting).toBe(0);
  });

  it('refuses at once, alone, a request holding a record that can never fit', async () => {
    const { sends, producer } = recordingProducer();
    const batcher = new ProduceBatcher(producer, { lingerMs: 0, maxRecords: 5_000, maxBatchBytes: 2_000 });
    const huge: TopicRecord = { topic: 't', message: { key: 'p', value: 'x'.repeat(5_000) } };
    const fine: TopicRecord = { topic: 't', message: { key: 'p', value: 'ok' } };
    const outcomes = await Promise.allSettled([batcher.produce([fine, huge]), batcher.produce([fine])]);
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: expect.any(RecordTooLargeError) });
    expect(outcomes[1]).toMatchObject({ status: 'fulfilled' });
    expect(sends.flatMap(valuesOf)).toEqual(['ok']);
  });
});

describe('ProduceBatcher with a deadline (timeoutMs)', () => {
  /** A producer whose sends hang until released: a broker that went away, as kafkajs retries it. */
  function hangingProducer() {
    const sends: ProducerBatch[] = [];
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    return {
      sends,
      release,
      producer: {
        sendBatch: async (batch: ProducerBatch) => {
          sends.push(batch);
          await released;
          return [];
        },
      },
    };
  }
  const record = (value: string): TopicRecord => ({ topic: 't', message: { key: 'p', value } });

  it('fails a request whose send hangs at its deadline, and withdraws the one queued behind it unsent', async () => {
    const { sends, release, producer } = hangingProducer();
    const batcher = new ProduceBatcher(producer, {
      lingerMs: 0,
      maxRecords: 5_000,
      maxBatchBytes: 900_000,
      timeoutMs: 150,
    });
    const started = performance.now();
    const first = batcher.produce([record('first')]);
    // The first send is in flight (and hangs): the second request queues behind it.
    await new Promise((resolve) => setImmediate(resolve));
    const second = batcher.produce([record('second'), record('second-b')]);
    expect(batcher.waiting).toBe(2);
    const outcomes = await Promise.allSettled([first, second]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(outcomes[0]).toMatchObject({
      status: 'rejected',
      reason: expect.objectContaining({ name: 'ProduceTimeoutError', inFlight: true }),
    });
    expect(outcomes[1]).toMatchObject({
      status: 'rejected',
      reason: expect.objectContaining({ name: 'ProduceTimeoutError', inFlight: false }),
    });
    expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(ProduceTimeoutError);
    expect(batcher.waiting).toBe(0);
    // The broker comes back: the hanging send completes; the withdrawn records are never sent.
    release();
    await batcher.flush();
    expect(sends.flatMap(valuesOf)).toEqual(['first']);
    // And the next request goes through.
    await expect(batcher.produce([record('third')])).resolves.toBeUndefined();
    expect(sends.flatMap(valuesOf)).toEqual(['first', 'third']);
  });

  it('withdraws every queued request at once on demand; the send in flight goes on', async () => {
    const { sends, release, producer } = hangingProducer();
    const batcher = new ProduceBatcher(producer, {
      lingerMs: 0,
      maxRecords: 5_000,
      maxBatchBytes: 900_000,
      timeoutMs: 10_000,
    });
    const first = batcher.produce([record('first')]);
    await new Promise((resolve) => setImmediate(resolve));
    const second = batcher.produce([record('second')]);
    const third = batcher.produce([record('third')]);
    const away = new Error('the broker is unreachable');
    expect(batcher.withdrawQueued(away)).toBe(2);
    expect(batcher.waiting).toBe(0);
    await expect(second).rejects.toBe(away);
    await expect(third).rejects.toBe(away);
    release();
    await expect(first).resolves.toBeUndefined();
    await batcher.flush();
    expect(sends.flatMap(valuesOf)).toEqual(['first']);
  });

  it('does not fail a request acknowledged in time', async () => {
    const { sends, producer } = recordingProducer();
    const batcher = new ProduceBatcher(producer, {
      lingerMs: 0,
      maxRecords: 5_000,
      maxBatchBytes: 900_000,
      timeoutMs: 50,
    });
    await expect(batcher.produce([record('a')])).resolves.toBeUndefined();
    // Past the deadline of the settled request nothing happens.
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(sends.flatMap(valuesOf)).toEqual(['a']);
  });
});
