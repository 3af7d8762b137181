/**
 * Reads topics from the beginning into memory and keeps following them, with a promise that
 * resolves once everything present at start has been read. The group id is unique per process and
 * nothing is committed: every start rebuilds its state from the log, which is the source of truth.
 * A follower kafkajs crashed and will not restart fails the service (`onFatal`, by default
 * `failService`: `stopOnSignals` exits non-zero), since the state it keeps would go stale.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import type { Registry } from '../observability/metrics.ts';
import { onFetchWithoutRecords } from './client.ts';
import { type ConsumerHealth, ConsumerWatch, failService, reportConsumerUp } from './consumer-runner.ts';

export interface Follower {
  /**
   * Resolves when the records present at start have all been handed to `onRecord`; rejects if the
   * consumer crashes for good before.
   */
  caughtUp: Promise<void>;
  /** Whether the follower's consumer runs: joined, not crashed nor stopped, fetching. */
  health(): ConsumerHealth;
  stop(): Promise<void>;
}

export interface FollowOptions {
  /** kafkajs crashed the consumer and will not restart it. Default: `failService`. */
  onFatal?: (error: Error) => void;
  /** Reports `trendradar_consumer_up{group=<label>}` there. */
  registry?: Registry;
  logger?: Logger;
  /** No fetch nor heartbeat for this long: not ready (default `STALLED_AFTER_MS`). */
  stalledAfterMs?: number;
}

export async function followTopics(
  kafka: Kafka,
  topics: string[],
  label: string,
  onRecord: (topic: string, message: KafkaMessage) => void,
  options: FollowOptions = {},
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
  let failCatchingUp!: (error: Error) => void;
  const caughtUp = new Promise<void>((resolve, reject) => {
    markCaughtUp = resolve;
    failCatchingUp = reject;
  });
  // A crash before anybody awaits it is reported through `onFatal`, not as an unhandled rejection.
  caughtUp.catch(() => {});
  if (pending.size === 0) markCaughtUp();

  const groupId = `${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    // Short long-polls: new records still arrive at once, and leaving the group takes a second, not five.
    maxWaitTimeInMs: 1_000,
  });
  let stopping = false;
  const watch = new ConsumerWatch(consumer, {
    ...(options.stalledAfterMs !== undefined ? { stalledAfterMs: options.stalledAfterMs } : {}),
    isStopping: () => stopping,
    onCrash: (error, restart) => {
      const fields = { follower: label, groupId, error: `${error.name}: ${error.message}` };
      if (restart) {
        options.logger?.warn(fields, 'follower crashed; kafkajs restarts it');
        return;
      }
      options.logger?.error(
        fields,
        'follower crashed and kafkajs does not restart it: the service cannot go on',
      );
      failCatchingUp(error);
      (options.onFatal ?? failService)(error);
    },
  });
  if (options.registry) reportConsumerUp(options.registry, label, () => watch.health().ready);
  const reached = (topic: string, partition: number, next: bigint): void => {
    const key = `${topic}/${partition}`;
    const target = pending.get(key);
    if (target === undefined || next < target) return;
    pending.delete(key);
    if (pending.size === 0) markCaughtUp();
  };
  // A partition whose log ends in an aborted transaction or a commit marker (the aggregator writes
  // alerts and dead letters in transactions) ends with fetches that hold no record: kafkajs never
  // calls eachBatch for them, and without this the follower would never be caught up.
  onFetchWithoutRecords(consumer, ({ topic, partition, next }) => reached(topic, partition, next));
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      for (const message of batch.messages) {
        onRecord(batch.topic, message);
        resolveOffset(message.offset);
      }
      reached(batch.topic, batch.partition, BigInt(batch.lastOffset()) + 1n);
      await heartbeat();
    },
  });
  return {
    caughtUp,
    health: () => watch.health(),
    stop: async () => {
      stopping = true;
      await consumer.disconnect();
    },
  };
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
