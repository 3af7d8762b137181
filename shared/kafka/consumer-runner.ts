/**
 * The one way services consume Kafka: a batch at a time, each record ending as
 *   done  → its outputs are produced (acks=all) before its offset is committed,
 *   retry → re-run with exponential backoff, up to `maxAttempts`, then dead (but a runner being
 *           stopped leaves it uncommitted instead),
 *   dead  → the original record goes to the dead-letter topic with dlq.* headers.
 * Offsets are committed only after everything a record produced was acknowledged, so a crash
 * re-delivers (at least once) and never loses; consumers downstream de-duplicate by event id.
 * If a whole batch throws, its records are re-tried one by one so a poison record cannot take its
 * neighbours to the dead-letter topic with it.
 */
import type { Consumer, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import { Counter, Histogram, type Registry } from '../observability/metrics.ts';
import { connectProducer, onFetchWithoutRecords } from './client.ts';
import { PermanentError } from './codec.ts';
import { deadLetterRecord } from './dead-letter.ts';

export interface InboundRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  /** Broker/producer timestamp in epoch milliseconds. */
  timestamp: number;
  message: KafkaMessage;
}

export interface OutboundRecord {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: IHeaders;
  /** Epoch milliseconds as a string, like kafkajs; event time for records that carry one. */
  timestamp?: string;
}

export type Outcome =
  | { kind: 'done'; outputs?: OutboundRecord[] }
  | { kind: 'retry'; error: unknown }
  | { kind: 'dead'; error: unknown };

export interface BatchContext {
  heartbeat(): Promise<void>;
  attempt: number;
  /** The runner's `maxAttempts`: a `retry` on this attempt is dead-lettered. */
  maxAttempts: number;
}

export type BatchHandler = (records: InboundRecord[], context: BatchContext) => Promise<Outcome[]>;

export interface ConsumerRunnerOptions {
  kafka: Kafka;
  service: string;
  groupId: string;
  topics: string[];
  deadLetterTopic: string;
  handleBatch: BatchHandler;
  logger: Logger;
  registry?: Registry;
  fromBeginning?: boolean;
  /** Records handed to `handleBatch` at once; offsets are committed after each such chunk. */
  maxBatchSize?: number;
  maxAttempts?: number;
  backoff?: { initialMs: number; maxMs: number };
  partitionsConsumedConcurrently?: number;
  /** Share a producer between runners; otherwise the runner connects its own. */
  producer?: Producer;
  /** Called after a chunk's offsets are committed (tests and metrics use it). */
  onCommitted?: (records: InboundRecord[]) => void;
  /**
   * True for a record the dead-letter topic already holds (a rebuild re-reading what the live run
   * dead-lettered): it is logged and counted as dead, not sent again.
   */
  alreadyDeadLettered?: (record: InboundRecord) => boolean;
}

/** Adapter for handlers that take one record at a time. PermanentError → dead, anything else → retry. */
export function eachRecord(
  handle: (record: InboundRecord) => Promise<OutboundRecord[] | undefined>,
): BatchHandler {
  return async (records) => {
    const outcomes: Outcome[] = [];
    for (const record of records) outcomes.push(await outcomeOf(() => handle(record)));
    return outcomes;
  };
}

export async function outcomeOf(work: () => Promise<OutboundRecord[] | undefined>): Promise<Outcome> {
  try {
    return { kind: 'done', outputs: (await work()) ?? [] };
  } catch (error) {
    return error instanceof PermanentError ? { kind: 'dead', error } : { kind: 'retry', error };
  }
}

class ShutdownRequested extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ConsumerRunner {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private ownsProducer = false;
  private stopping = false;
  private readonly processed: Counter<'topic' | 'outcome'> | undefined;
  private readonly retries: Counter<'topic'> | undefined;
  private readonly chunkSeconds: Histogram<'topic'> | undefined;

  constructor(private readonly options: ConsumerRunnerOptions) {
    const { registry } = options;
    if (registry) {
      this.processed = new Counter({
        name: 'trendradar_consumer_records_total',
        help: 'Records consumed, by final outcome (done, dead).',
        labelNames: ['topic', 'outcome'],
        registers: [registry],
      });
      this.retries = new Counter({
        name: 'trendradar_consumer_retries_total',
        help: 'Records re-tried after a transient failure.',
        labelNames: ['topic'],
        registers: [registry],
      });
      this.chunkSeconds = new Histogram({
        name: 'trendradar_consumer_chunk_seconds',
        help: 'Time to process, produce and commit one chunk of records.',
        labelNames: ['topic'],
        registers: [registry],
      });
    }
  }

  async start(): Promise<void> {
    const { kafka, groupId, topics, fromBeginning = true } = this.options;
    this.producer = this.options.producer;
    if (!this.producer) {
      this.producer = await connectProducer(kafka);
      this.ownsProducer = true;
    }
    this.consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 30_000 });
    // Without this the group would stay one marker short of the end of a transactional topic
    // forever (a reindex or a lag check waiting for it never ends). Such a fetch comes after every
    // earlier batch of its partition was processed, so its end can be committed.
    onFetchWithoutRecords(this.consumer, ({ topic, partition, next }) => {
      if (this.stopping) return;
      this.consumer
        ?.commitOffsets([{ topic, partition, offset: next.toString() }])
        .catch((error: unknown) => {
          this.options.logger.warn(
            { service: this.options.service, topic, partition, error: errorMessage(error) },
            'could not commit past transaction markers; the next batch will',
          );
        });
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const size = this.options.maxBatchSize ?? 500;
        for (let start = 0; start < batch.messages.length; start += size) {
          if (!isRunning() || isStale() || this.stopping) return;
          const records = batch.messages.slice(start, start + size).map((message) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers ?? {},
            timestamp: Number(message.timestamp),
            message,
          }));
          const timer = this.chunkSeconds?.startTimer({ topic: batch.topic });
          try {
            await this.processChunk(records, heartbeat);
          } catch (error) {
            if (error instanceof ShutdownRequested) return;
            throw error;
          }
          const last = records[records.length - 1]!;
          resolveOffset(last.offset);
          // The batch's last chunk commits past any transaction markers the fetch brought after it.
          const end =
            start + size >= batch.messages.length ? BigInt(batch.lastOffset()) : BigInt(last.offset);
          const next = (end > BigInt(last.offset) ? end : BigInt(last.offset)) + 1n;
          await this.consumer!.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: next.toString() },
          ]);
          timer?.();
          this.options.onCommitted?.(records);
          await heartbeat();
        }
      },
    });
  }

  /** Finish the chunk in hand, commit it, leave the group. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
    if (this.ownsProducer) await this.producer?.disconnect();
    this.consumer = undefined;
  }

  private async processChunk(records: InboundRecord[], heartbeat: () => Promise<void>): Promise<void> {
    const { maxAttempts = 5, backoff = { initialMs: 200, maxMs: 10_000 }, logger, service } = this.options;
    const final = new Map<InboundRecord, Outcome>();
    /** Attempts actually made per record: a permanent error on the first one dead-letters at 1. */
    const attempts = new Map<InboundRecord, number>();
    let pending = records;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const outcomes = await this.runHandler(pending, { heartbeat, attempt, maxAttempts });
      // Stopping (a signal, or the handler found a fault no record is to blame for): a retry waits,
      // uncommitted, for the next start instead of being dead-lettered on the last attempt.
      if (this.stopping && outcomes.some((outcome) => outcome.kind === 'retry'))
        throw new ShutdownRequested();
      const again: InboundRecord[] = [];
      pending.forEach((record, i) => {
        const outcome = outcomes[i]!;
        attempts.set(record, attempt);
        if (outcome.kind !== 'retry') final.set(record, outcome);
        else if (attempt >= maxAttempts) final.set(record, { kind: 'dead', error: outcome.error });
        else again.push(record);
      });
      if (again.length > 0) {
        this.retries?.inc({ topic: again[0]!.topic }, again.length);
        const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** (attempt - 1));
        logger.warn(
          {
            service,
            records: again.length,
            attempt,
            delayMs: delay,
            error: errorMessage(outcomeError(outcomes, pending, again[0]!)),
          },
          'transient failure, retrying',
        );
        await this.sleepWithHeartbeat(delay, heartbeat);
      }
      pending = again;
    }

    const messages = new Map<string, Message[]>();
    const push = (topic: string, message: Message) => {
      const list = messages.get(topic) ?? [];
      list.push(message);
      messages.set(topic, list);
    };
    for (const record of records) {
      const outcome = final.get(record)!;
      if (outcome.kind === 'done') {
        for (const out of outcome.outputs ?? []) {
          push(out.topic, { key: out.key, value: out.value, headers: out.headers, timestamp: out.timestamp });
        }
      } else if (outcome.kind === 'dead' && this.options.alreadyDeadLettered?.(record)) {
        logger.warn(
          { service, topic: record.topic, partition: record.partition, offset: record.offset },
          'record already on the dead-letter topic; not sent again',
        );
      } else if (outcome.kind === 'dead') {
        logger.error(
          {
            service,
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            error: errorMessage(outcome.error),
          },
          'record sent to the dead-letter topic',
        );
        push(
          this.options.deadLetterTopic,
          deadLetterRecord(record, outcome.error, service, attempts.get(record)!),
        );
      }
      this.processed?.inc({ topic: record.topic, outcome: outcome.kind });
    }
    if (messages.size > 0) {
      await this.producer!.sendBatch({
        acks: -1,
        topicMessages: [...messages].map(([topic, list]) => ({ topic, messages: list })),
      });
    }
  }

  private async runHandler(records: InboundRecord[], context: BatchContext): Promise<Outcome[]> {
    try {
      const outcomes = await this.options.handleBatch(records, context);
      if (outcomes.length !== records.length) {
        throw new Error(`handler returned ${outcomes.length} outcomes for ${records.length} records`);
      }
      return outcomes;
    } catch (error) {
      if (records.length === 1) {
        return [error instanceof PermanentError ? { kind: 'dead', error } : { kind: 'retry', error }];
      }
      // Isolate the culprit: one record at a time.
      const outcomes: Outcome[] = [];
      for (const record of records) outcomes.push(...(await this.runHandler([record], context)));
      return outcomes;
    }
  }

  private async sleepWithHeartbeat(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.stopping) throw new ShutdownRequested();
      await sleep(Math.min(1_000, until - Date.now()));
      await heartbeat();
    }
  }
}

function outcomeError(outcomes: Outcome[], pending: InboundRecord[], record: InboundRecord): unknown {
  const outcome = outcomes[pending.indexOf(record)];
  return outcome && outcome.kind !== 'done' ? outcome.error : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Stops the runners on SIGTERM/SIGINT: finish the batch, commit, leave the group, then exit. */
export function stopOnSignals(logger: Logger, ...closers: Array<() => Promise<void>>): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    for (const close of closers) {
      await close().catch((error) => logger.error({ error: errorMessage(error) }, 'error during shutdown'));
    }
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
