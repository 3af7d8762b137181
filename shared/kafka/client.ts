import { createRequire } from 'node:module';
import { type Consumer, Kafka, type LogEntry, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
}

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// kafkajs' table of broker error codes (not in its public types; the version is pinned).
const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  errorCodes: Array<{ type: string; message: string; retriable: boolean }>;
};
/** The messages of the broker errors kafkajs retries (CONCURRENT_TRANSACTIONS, NOT_LEADER_FOR_PARTITION, …). */
const RETRIABLE_BROKER_ERRORS = new Set(errorCodes.filter((e) => e.retriable).map((e) => e.message));
/** How kafkajs' producer prefixes a retriable error of a send it retries. */
const RETRIED_SEND = 'Failed to send messages: ';

/**
 * kafkajs' notice on creating an idempotent producer with a bounded `retry.retries`: every producer
 * of a `createKafka` client is (its `retry` applies to them all). Deliberate: a send that still
 * fails after them reaches the caller (the consumer runner re-tries its chunk, and downstream
 * de-duplicates by event id; a transaction aborts), instead of a producer retrying forever.
 */
const EOS_RETRIES_NOTICE = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/**
 * The level a kafkajs log line is written at. kafkajs logs a broker's error answer at error level
 * even when it retries it and then succeeds (CONCURRENT_TRANSACTIONS while the broker completes the
 * previous transaction, a leader moving): once by the connection ("Response …", with the error),
 * and again by the retrying caller (the producer's "Failed to send messages: …", with retryCount).
 * Whoever sent the request receives the error if the retries do not recover, and reports it
 * itself (the consumer runner's "transient failure, retrying", the aggregator's abort), so:
 *   - a broker error kafkajs retries (its table says retriable), answered or retried: debug;
 *   - any other broker error answer ("Response …"): warn, its caller reports it;
 *   - the idempotent producer's notice about bounded retries (EOS_RETRIES_NOTICE): debug;
 *   - anything else at error level (a broker that cannot be reached, a crash, an error kafkajs
 *     does not retry) stays an error.
 */
export function kafkaLogLevel(
  level: number,
  namespace: string | undefined,
  message: string,
  extra: Record<string, unknown> = {},
): 'error' | 'warn' | 'info' | 'debug' {
  if (level === logLevel.ERROR) {
    if (namespace === 'Connection' && message.startsWith('Response ')) {
      return typeof extra.error === 'string' && RETRIABLE_BROKER_ERRORS.has(extra.error) ? 'debug' : 'warn';
    }
    if (isRetriedBrokerError(message, extra)) return 'debug';
  }
  if (level === logLevel.WARN && namespace === 'Producer' && message === EOS_RETRIES_NOTICE) return 'debug';
  return LEVEL_NAMES[level] ?? 'info';
}

/** A retry loop's entry (it carries retryCount) about a broker error kafkajs retries. */
function isRetriedBrokerError(message: string, extra: Record<string, unknown>): boolean {
  if (typeof extra.retryCount !== 'number') return false;
  const error = message.startsWith(RETRIED_SEND) ? message.slice(RETRIED_SEND.length) : message;
  return RETRIABLE_BROKER_ERRORS.has(error);
}

/** A kafkajs client whose own log lines go through pino (warnings and errors only by default). */
export function createKafka({ brokers, clientId }: KafkaConnection, logger?: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
    logLevel: logLevel.WARN,
    logCreator: () => kafkaLogEntryWriter(logger),
  });
}

/** Writes each kafkajs log entry to `logger` (nowhere without one) at `kafkaLogLevel`'s level. */
export function kafkaLogEntryWriter(logger: Logger | undefined): (entry: LogEntry) => void {
  return (entry) => {
    if (!logger) return;
    const { message, ...rest } = entry.log;
    logger[kafkaLogLevel(entry.level, entry.namespace, message, rest)](
      { kafka: entry.namespace, ...rest },
      message,
    );
  };
}

/**
 * Idempotent producer: acks=all is forced by kafkajs when idempotent, and one in-flight request
 * per connection keeps ordering within a partition across retries.
 */
export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Java-compatible murmur2, so keys land on the same partitions as with any other client.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return producer;
}

/** A fetch that brought no record: where it leaves its partition, and whether that is the end. */
export interface FetchWithoutRecords {
  topic: string;
  partition: number;
  /** The offset after everything the fetch covered (transaction markers, aborted records). */
  next: bigint;
  caughtUp: boolean;
  /** The partition's high watermark when fetched: `next` is the end when they are equal. */
  highWatermark: string;
}

/**
 * kafkajs never hands a fetch that held only transaction markers or aborted records to eachBatch
 * (and, without autoCommit, commits nothing for it); it only announces it. The end of a topic
 * written in transactions is such a fetch, so a consumer that tracks or commits positions has to
 * hear of it. A fetch holding only records before its start offset (compaction) says nothing and
 * is left out.
 */
export function onFetchWithoutRecords(
  consumer: Consumer,
  listener: (fetch: FetchWithoutRecords) => void,
): void {
  consumer.on(consumer.events.START_BATCH_PROCESS, (event) => {
    const { topic, partition, batchSize, firstOffset, lastOffset, offsetLag, highWatermark } = event.payload;
    if (batchSize !== 0 || firstOffset === null) return;
    listener({
      topic,
      partition,
      next: BigInt(lastOffset) + 1n,
      caughtUp: BigInt(offsetLag) <= 0n,
      highWatermark,
    });
  });
}
