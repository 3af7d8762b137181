import type { Producer, ProducerBatch } from 'kafkajs';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PermanentError } from '../../../shared/kafka/codec.ts';
import { type BatchHandler, ConsumerRunner } from '../../../shared/kafka/consumer-runner.ts';
import { createRegistry } from '../../../shared/observability/metrics.ts';
import { fakeConsumerKafka } from '../../support/fake-consumer.ts';

/** A runner on a fake consumer (no broker: the runner's own bookkeeping is under test). */
async function fakeRunner(
  handleBatch: BatchHandler,
  sendBatch: (batch: ProducerBatch) => Promise<unknown> = async () => [],
) {
  const { kafka, committed, deliver: deliverWith } = fakeConsumerKafka();
  const lines: string[] = [];
  // As createLogger does: the service is the logger's base field.
  const logger = pino(
    { name: 'svc', level: 'debug', base: { service: 'svc' } },
    { write: (line: string) => lines.push(line) },
  );
  const registry = createRegistry('svc');
  const runner = new ConsumerRunner({
    kafka,
    producer: { sendBatch } as unknown as Producer,
    service: 'svc',
    groupId: 'g',
    topics: ['in'],
    deadLetterTopic: 'dlq',
    logger,
    registry,
    maxAttempts: 2,
    backoff: { initialMs: 1, maxMs: 1 },
    handleBatch,
  });
  await runner.start();
  let heartbeats = 0;
  const deliver = (values: string[]) =>
    deliverWith(values, async () => {
      heartbeats++;
    });
  const dead = async () =>
    (await registry.getSingleMetric('trendradar_consumer_records_total')!.get()).values
      .filter((v) => v.labels.outcome === 'dead')
      .reduce((sum, v) => sum + v.value, 0);
  return { runner, deliver, committed, lines, dead, heartbeats: () => heartbeats };
}

/** The runner's heartbeat period while a chunk is in hand (HEARTBEAT_EVERY_MS). */
const HEARTBEAT_EVERY_MS = 3_000;

afterEach(() => {
  vi.useRealTimers();
});

describe('ConsumerRunner while a chunk is in hand', () => {
  it('heartbeats every few seconds while the handler runs, however long it takes', async () => {
    vi.useFakeTimers();
    let finish!: () => void;
    const { deliver, heartbeats, committed } = await fakeRunner(async (records) => {
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      return records.map(() => ({ kind: 'done' as const }));
    });
    const delivered = deliver(['a', 'b']);
    await vi.advanceTimersByTimeAsync(10 * HEARTBEAT_EVERY_MS + 100);
    // A handler blocked on a slow request (Elasticsearch hanging for 30 s) no longer outlasts the session.
    expect(heartbeats()).toBeGreaterThanOrEqual(10);
    finish();
    await delivered;
    expect(committed).toEqual(['2']);
    const after = heartbeats();
    await vi.advanceTimersByTimeAsync(10 * HEARTBEAT_EVERY_MS);
    expect(heartbeats()).toBe(after); // the timer ends with the chunk
  });

  it('stop() aborts the chunk’s signal: the handler lets go at once and nothing is committed nor produced', async () => {
    const produced: ProducerBatch[] = [];
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const reasons: string[] = [];
    const { runner, deliver, committed } = await fakeRunner(
      async (records, { signal }) => {
        started();
        // A slow request (a bulk to an Elasticsearch that hangs) that the signal cuts short.
        const aborted = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 3_000);
          signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reasons.push(String(signal.reason));
            resolve(true);
          });
        });
        return records.map(() =>
          aborted
            ? { kind: 'retry' as const, error: new Error('aborted') }
            : { kind: 'done' as const, outputs: [{ topic: 'out', key: null, value: 'late' }] },
        );
      },
      async (batch) => {
        produced.push(batch);
        return [];
      },
    );
    const delivered = deliver(['a']);
    await handlerStarted;
    const stopping = Date.now();
    await runner.stop();
    await delivered;
    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(reasons).toEqual([expect.stringMatching(/stopping/)]);
    expect(committed).toEqual([]);
    expect(produced).toEqual([]);
  });
});

describe('ConsumerRunner dead letters', () => {
  it('logs and counts a dead letter only once the dead-letter topic acknowledged it', async () => {
    let fail = true;
    const { deliver, lines, dead } = await fakeRunner(
      async (records) => records.map(() => ({ kind: 'dead' as const, error: new PermanentError('bad') })),
      async () => {
        if (fail) throw new Error('The request included a message larger than the max message size');
        return [];
      },
    );
    await expect(deliver(['poison'])).rejects.toThrow(/larger than the max message size/);
    expect(lines.filter((l) => l.includes('record sent to the dead-letter topic'))).toEqual([]);
    expect(await dead()).toBe(0);

    fail = false;
    await deliver(['poison']);
    const sent = lines.filter((l) => l.includes('record sent to the dead-letter topic'));
    expect(sent).toHaveLength(1);
    expect(await dead()).toBe(1);
  });

  it('writes each log line with one service field (Elasticsearch refuses duplicate keys)', async () => {
    let attempt = 0;
    const { deliver, lines } = await fakeRunner(async (records) =>
      records.map(() =>
        attempt++ === 0
          ? { kind: 'retry' as const, error: new Error('flaky') }
          : { kind: 'dead' as const, error: new PermanentError('bad') },
      ),
    );
    await deliver(['x']);
    const messages = lines.map((l) => JSON.parse(l).msg);
    expect(messages).toContain('transient failure, retrying');
    expect(messages).toContain('record sent to the dead-letter topic');
    for (const line of lines) expect(line.match(/"service":/g)).toHaveLength(1);
  });
});
