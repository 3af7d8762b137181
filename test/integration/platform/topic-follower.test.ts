/**
 * A follower (the notifier's inbox view and ledger, the embedder's catalogue, a reindex) reads a
 * topic to its end before the service goes on. The aggregator writes alerts and dead letters in
 * transactions, so a partition can end in an aborted transaction or a lone commit marker: fetches
 * that hold no record, for which kafkajs never calls eachBatch. Before, such a tail left the
 * follower "catching up" for ever (the notifier then delivered nothing, and a reindex hung).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../../shared/kafka/client.ts';
import { followTopics } from '../../../shared/kafka/topic-follower.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { createTopics } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'topic-follower-test' });
const namespace = uniqueNamespace('follower');
const abortedTail = `${namespace}.aborted-tail`;
const committedTail = `${namespace}.committed-tail`;

// Large records, so that the log's end comes in a fetch of its own (a fetch returns about 1 MB per
// partition): the committed transactions fill the fetches before it, the aborted one is 900 KB.
const PADDING = 'x'.repeat(4_500);
const messages = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `record ${from + i} ${PADDING}` }));

/** `committed` records in transactions of 50, then `aborted` in one aborted transaction (if any). */
async function writeTransactions(topic: string, committed: number, aborted: number): Promise<void> {
  const producer = kafka.producer({
    transactionalId: `${topic}.writer`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (let from = 0; from < committed; from += 50) {
      const commit = await producer.transaction();
      await commit.send({ topic, acks: -1, messages: messages(from, Math.min(50, committed - from)) });
      await commit.commit();
    }
    if (aborted > 0) {
      const abort = await producer.transaction();
      await abort.send({ topic, acks: -1, messages: messages(committed, aborted) });
      await abort.abort();
    }
  } finally {
    await producer.disconnect();
  }
}

/** Follows `topic` until caught up (or `timeoutMs`): the values read and whether it caught up. */
async function follow(topic: string, timeoutMs: number) {
  const values: string[] = [];
  const follower = await followTopics(kafka, [topic], `${topic}.follower`, (_topic, message) =>
    values.push(message.value!.toString()),
  );
  try {
    const caughtUp = await Promise.race([
      follower.caughtUp.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs)),
    ]);
    return { caughtUp, values: [...values], health: follower.health() };
  } finally {
    await follower.stop();
  }
}

beforeAll(async () => {
  await createTopics(kafka, [
    [abortedTail, 1],
    [committedTail, 1],
  ]);
  await writeTransactions(abortedTail, 250, 200);
  await writeTransactions(committedTail, 250, 0);
});

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [abortedTail, committedTail] }).catch(() => {});
  await admin.disconnect();
});

describe('a follower reads a topic written in transactions to its end', () => {
  it('catches up when the log ends in an aborted transaction, with only the committed records', async () => {
    const result = await follow(abortedTail, 30_000);
    expect(result.caughtUp).toBe(true);
    expect(result.values).toEqual(messages(0, 250).map((m) => m.value));
    expect(result.health).toEqual({ ready: true, reason: 'consuming' });
  });

  it('catches up when the log ends in a commit marker', async () => {
    const result = await follow(committedTail, 30_000);
    expect(result.caughtUp).toBe(true);
    expect(result.values).toHaveLength(250);
  });
});
