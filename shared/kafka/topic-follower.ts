/**
 * Reads topics from the beginning into memory and keeps following them, with a promise that
 * resolves once everything present at start has been read. The group id is unique per process and
 * nothing is committed: every start rebuilds its state from the log, which is the source of truth.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface Follower {
  /** Resolves when the records present at start have all been handed to `onRecord`. */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

export async function followTopics(
  kafka: Kafka,
  topics: string[],
  label: string,
  onRecord: (topic: string, message: KafkaMessage) => void,
): Promise<Follower> {
  const admin = kafka.admin();
  await admin.connect();
  // partition key `${topic}/${partition}` → the offset the reader must pass to be caught up.
  const pending = new Map<string, bigint>();
  try {
    for (const topic of topics) {
      for (const p of await withLeaderRetry(() => admin.fetchTopicOffsets(topic))) {
        if (BigInt(p.high) > BigInt(p.low)) pending.set(`${topic}/${p.partition}`, BigInt(p.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  let markCaughtUp!: () => void;
  const caughtUp = new Promise<void>((resolve) => {
    markCaughtUp = resolve;
  });
  if (pending.size === 0) markCaughtUp();

  const consumer = kafka.consumer({
    groupId: `${label}-${process.pid}-${randomBytes(4).toString('hex')}`,
    allowAutoTopicCreation: false,
    // Short long-polls: new records still arrive at once, and leaving the group takes a second, not five.
    maxWaitTimeInMs: 1_000,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      for (const message of batch.messages) {
        onRecord(batch.topic, message);
        resolveOffset(message.offset);
      }
      const key = `${batch.topic}/${batch.partition}`;
      const target = pending.get(key);
      if (target !== undefined && BigInt(batch.lastOffset()) + 1n >= target) {
        pending.delete(key);
        if (pending.size === 0) markCaughtUp();
      }
      await heartbeat();
    },
  });
  return { caughtUp, stop: () => consumer.disconnect() };
}

/** A topic created moments ago may not have a known leader yet on every broker: wait for it. */
export async function withLeaderRetry<T>(work: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const type = (error as { type?: string }).type;
      const retriable =
        type === 'NOT_LEADER_FOR_PARTITION' ||
        type === 'LEADER_NOT_AVAILABLE' ||
        type === 'UNKNOWN_TOPIC_OR_PARTITION';
      if (!retriable || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}
