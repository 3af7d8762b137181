import type { Producer, ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../../shared/kafka/codec.ts';
import {
  type BatchContext,
  type BatchHandler,
  ConsumerRunner,
  eachRecord,
} from '../../../shared/kafka/consumer-runner.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { type FakeBatch, fakeConsumerKafka } from '../../support/fake-consumer.ts';

/** Runs one batch through a runner on a fake consumer; returns what it produced and committed. */
async function runChunk(
  values: string[],
  handler: (runner: ConsumerRunner) => BatchHandler,
  maxAttempts: number,
  batch: FakeBatch = {},
): Promise<{ produced: ProducerBatch[]; committed: string[] }> {
  const { kafka, committed, deliver } = fakeConsumerKafka();
  const produced: ProducerBatch[] = [];
  const producer = {
    sendBatch: async (batch: ProducerBatch) => {
      produced.push(batch);
      return [];
    },
  } as unknown as Producer;
  const runner: ConsumerRunner = new ConsumerRunner({
    kafka,
    producer,
    service: 'test',
    groupId: 'g',
    topics: [batch.topic ?? 'in'],
    deadLetterTopic: 'dlq',
    logger: createLogger('test', 'silent'),
    maxAttempts,
    backoff: { initialMs: 1, maxMs: 1 },
    handleBatch: (records, context) => handler(runner)(records, context),
  });
  await runner.start();
  await deliver(values, undefined, batch);
  return { produced, committed };
}

/** A record-at-a-time handler that throws as `handle` says; returns what the runner produced. */
async function runBatch(
  values: string[],
  handle: (value: string, attempt: number) => void,
  maxAttempts: number,
): Promise<ProducerBatch[]> {
  const tries = new Map<string, number>();
  const { produced } = await runChunk(
    values,
    () =>
      eachRecord(async (record) => {
        const value = String(record.value);
        const attempt = (tries.get(value) ?? 0) + 1;
        tries.set(value, attempt);
        handle(value, attempt);
        return [{ topic: 'out', key: record.key, value: record.value }];
      }),
    maxAttempts,
  );
  return produced;
}

const deadLetterAttempts = (produced: ProducerBatch[]) =>
  Object.fromEntries(
    produced
      .flatMap((batch) => batch.topicMessages!)
      .filter((t) => t.topic === 'dlq')
      .flatMap((t) => t.messages)
      .map((m) => [String(m.value), String((m.headers as Record<string, string>)['dlq.attempts'])]),
  );

describe('ConsumerRunner dead-letter headers', () => {
  it('dlq.attempts is the number of attempts actually made, not the configured maximum', async () => {
    const produced = await runBatch(
      ['poison', 'flaky-then-poison', 'always-flaky', 'good'],
      (value, attempt) => {
        if (value === 'poison') throw new PermanentError('not a record');
        if (value === 'flaky-then-poison') {
          if (attempt < 2) throw new Error('timeout');
          throw new PermanentError('bad after all');
        }
        if (value === 'always-flaky') throw new Error('timeout');
      },
      4,
    );
    expect(deadLetterAttempts(produced)).toEqual({
      poison: '1',
      'flaky-then-poison': '2',
      'always-flaky': '4',
    });
    const outputs = produced.flatMap((b) => b.topicMessages!).filter((t) => t.topic === 'out');
    expect(outputs.flatMap((t) => t.messages.map((m) => String(m.value)))).toEqual(['good']);
  });
});

describe('ConsumerRunner attempts and stopping', () => {
  it('tells the handler its attempt and the maximum', async () => {
    const contexts: Pick<BatchContext, 'attempt' | 'maxAttempts'>[] = [];
    await runChunk(
      ['flaky'],
      () =>
        async (records, { attempt, maxAttempts }) => {
          contexts.push({ attempt, maxAttempts });
          return records.map(() => ({ kind: 'retry', error: new Error('timeout') }));
        },
      3,
    );
    expect(contexts).toEqual([1, 2, 3].map((attempt) => ({ attempt, maxAttempts: 3 })));
  });

  it('a runner stopped by its handler leaves a retry on the last attempt uncommitted, not dead-lettered', async () => {
    const { produced, committed } = await runChunk(
      ['good', 'blameless'],
      (runner) => async (records) => {
        // As the embedder does on a model/manifest mismatch: stop, and blame no record.
        void runner.stop();
        return records.map((record) =>
          String(record.value) === 'good'
            ? { kind: 'done', outputs: [{ topic: 'out', key: null, value: record.value }] }
            : { kind: 'retry', error: new Error('the model does not fit its manifest') },
        );
      },
      1,
    );
    expect(produced).toEqual([]);
    expect(committed).toEqual([]);
  });
});

describe('ConsumerRunner and the contract a record says it was written to', () => {
  it('dead-letters a record of another contract than its topic carries, before the handler reads it', async () => {
    const seen: string[] = [];
    const { produced, committed } = await runChunk(
      ['v1-said', 'v2-said', 'nothing-said'],
      () => async (records) =>
        records.map((record) => {
          seen.push(String(record.value));
          return { kind: 'done', outputs: [] };
        }),
      3,
      {
        topic: 'prod.uploads.v1',
        headers: (value) =>
          value === 'nothing-said'
            ? {}
            : { 'trendradar-schema': value === 'v1-said' ? 'uploads.v1' : 'uploads.v2' },
      },
    );
    expect(seen).toEqual(['v1-said', 'nothing-said']);
    const dead = produced
      .flatMap((b) => b.topicMessages!)
      .filter((t) => t.topic === 'dlq')
      .flatMap((t) => t.messages);
    expect(dead.map((m) => String(m.value))).toEqual(['v2-said']);
    const headers = dead[0]!.headers as Record<string, string>;
    expect(headers['dlq.error.class']).toBe('InvalidRecordError');
    expect(headers['dlq.error']).toMatch(/uploads\.v2.*prod\.uploads\.v1 carries uploads\.v1/);
    expect(committed).toEqual(['3']);
  });
});
