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
 *
 * While a chunk is in hand the runner heartbeats every few seconds (a slow handler — an
 * Elasticsearch that hangs — must not get the member evicted from its group), and it gives the
 * chunk back uncommitted when it stops or the group rebalances (`BatchContext.signal` aborts).
 * `health()` says whether the consumer runs (for /readyz); a consumer kafkajs crashed and will
 * not restart fails the service (`onFatal`, by default `stopOnSignals`: exit non-zero).
 */
import type { Consumer, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import { Counter, Gauge, Histogram, type Registry } from '../observability/metrics.ts';
import { connectProducer, onFetchWithoutRecords } from './client.ts';
import { PermanentError, refuseOtherSchema } from './codec.ts';
import { deadLetterRecord } from './dead-letter.ts';
import { encodedRecordSize, MAX_PRODUCE_REQUEST_BYTES } from './record-size.ts';

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
  /**
   * Aborted when the chunk is given back uncommitted: the runner is stopping, or the group is
   * rebalancing (the partition may be another member's by now). Pass it to slow requests; records
   * not finished then are `retry` (neither committed nor dead-lettered).
   */
  signal?: AbortSignal;
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
  /**
   * kafkajs crashed the consumer and will not restart it (a non-retriable error): the service
   * cannot go on and should exit so that its supervisor restarts it. Default: `failService`, which
   * `stopOnSignals` turns into a stop and a non-zero exit.
   */
  onFatal?: (error: Error) => void;
  /** No fetch nor heartbeat for this long: not ready (default `STALLED_AFTER_MS`). */
  stalledAfterMs?: number;
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

/** The chunk goes back uncommitted (stopping, or the group rebalancing): it is fetched again. */
class ChunkGivenBack extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How often the runner heartbeats while a chunk is in hand (kafkajs sends one at most every 3 s). */
export const HEARTBEAT_EVERY_MS = 3_000;

export class ConsumerRunner {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private ownsProducer = false;
  private stopping = false;
  private watch: ConsumerWatch | undefined;
  /** One per chunk in hand: aborted when the runner stops. */
  private readonly inHand = new Set<AbortController>();
  private readonly processed: Counter<'topic' | 'outcome'> | undefined;
  private readonly retries: Counter<'topic'> | undefined;
  private readonly chunkSeconds: Histogram<'topic'> | undefined;
  private readonly lag: Gauge<'group' | 'topic' | 'partition'> | undefined;
  /** The partitions `lag` has a series of, as `topic/partition`. */
  private readonly lagSeries = new Map<string, { topic: string; partition: string }>();
  /** The member's partitions (topic → partitions) since it last joined its group. */
  private assignment: Record<string, number[]> | undefined;

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
      this.lag = new Gauge({
        name: 'trendradar_consumer_lag_records',
        help: "Records of the partition the group has still to process: the partition's high watermark at the last fetch minus the next offset the group processes (its offsets are committed after processing).",
        labelNames: ['group', 'topic', 'partition'],
        registers: [registry],
      });
      reportConsumerUp(registry, options.groupId, () => this.health().ready);
    }
  }

  /** Whether the consumer runs: joined its group, not crashed nor stopped, fetching or heartbeating. */
  health(): ConsumerHealth {
    return this.watch?.health() ?? { ready: false, reason: 'not started' };
  }

  async start(): Promise<void> {
    const { kafka, groupId, topics, fromBeginning = true, logger } = this.options;
    this.producer = this.options.producer;
    if (!this.producer) {
      this.producer = await connectProducer(kafka);
      this.ownsProducer = true;
    }
    // The session outlasts a slow chunk only because the runner heartbeats meanwhile (below).
    this.consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 30_000 });
    this.watch = new ConsumerWatch(this.consumer, {
      ...(this.options.stalledAfterMs !== undefined ? { stalledAfterMs: this.options.stalledAfterMs } : {}),
      isStopping: () => this.stopping,
      onCrash: (error, restart) => {
        if (restart) {
          logger.warn({ groupId, error: errorMessage(error) }, 'consumer crashed; kafkajs restarts it');
          return;
        }
        logger.error(
          { groupId, error: errorMessage(error) },
          'consumer crashed and kafkajs does not restart it: the service cannot go on',
        );
        (this.options.onFatal ?? failService)(error);
      },
    });
    // Without this the group would stay one marker short of the end of a transactional topic
    // forever (a reindex or a lag check waiting for it never ends). Such a fetch comes after every
    // earlier batch of its partition was processed, so its end can be committed.
    onFetchWithoutRecords(this.consumer, ({ topic, partition, next, highWatermark }) => {
      if (this.stopping) return;
      this.setLag(topic, partition, highWatermark, next);
      this.consumer
        ?.commitOffsets([{ topic, partition, offset: next.toString() }])
        .catch((error: unknown) => {
          logger.warn(
            { topic, partition, error: errorMessage(error) },
            'could not commit past transaction markers; the next batch will',
          );
        });
    });
    // A partition taken away by a rebalance is no longer this member's to report (the member it
    // went to reports it): its series goes.
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.keepLagOf(event.payload.memberAssignment as Record<string, number[]>);
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
          const chunk = this.keepAlive(heartbeat);
          try {
            await this.processChunk(records, heartbeat, chunk.signal);
          } catch (error) {
            if (!(error instanceof ChunkGivenBack)) throw error;
            if (!this.stopping)
              logger.warn(
                {
                  topic: batch.topic,
                  partition: batch.partition,
                  records: records.length,
                  reason: error.message,
                },
                'chunk given back uncommitted; it is fetched again',
              );
            return;
          } finally {
            chunk.end();
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
          this.setLag(batch.topic, batch.partition, batch.highWatermark, next);
          this.options.onCommitted?.(records);
          await heartbeat();
        }
      },
    });
  }

  /**
   * Give the chunk in hand back uncommitted (its handler is told through `BatchContext.signal`),
   * leave the group. Safe to call twice.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const chunk of this.inHand) chunk.abort(new Error('the consumer is stopping'));
    await this.consumer?.disconnect();
    if (this.ownsProducer) await this.producer?.disconnect();
    this.consumer = undefined;
    this.keepLagOf({});
  }

  /**
   * `trendradar_consumer_lag_records{group,topic,partition}` = the high watermark the fetch saw
   * minus `next`, the next offset the group processes (committed, or being committed). kafkajs
   * hands the runner nothing for a fetch that found no new record (an idle partition): the value
   * stays that of the partition's last batch, which is right as long as nothing new was written
   * since (and anything written since is fetched, and updates it). A batch without a high
   * watermark (a test's fake consumer) sets nothing.
   */
  private setLag(topic: string, partition: number, highWatermark: string | undefined, next: bigint): void {
    if (!this.lag || highWatermark === undefined) return;
    // A batch finished after its partition was taken away: not this member's to report any more.
    if (this.assignment && !this.assignment[topic]?.includes(partition)) return;
    const lag = BigInt(highWatermark) - next;
    const labels = { topic, partition: String(partition) };
    this.lagSeries.set(`${topic}/${partition}`, labels);
    this.lag.set({ group: this.options.groupId, ...labels }, Number(lag > 0n ? lag : 0n));
  }

  /** Drops the lag series of every partition not in `assignment` (topic → partitions). */
  private keepLagOf(assignment: Record<string, number[]>): void {
    this.assignment = assignment;
    for (const [key, labels] of this.lagSeries) {
      if (assignment[labels.topic]?.includes(Number(labels.partition))) continue;
      this.lag?.remove({ group: this.options.groupId, ...labels });
      this.lagSeries.delete(key);
    }
  }

  /**
   * Heartbeats every HEARTBEAT_EVERY_MS while a chunk is in hand, whatever the handler does: a
   * handler blocked on a slow request would otherwise outlast the session and be evicted. A
   * heartbeat refused because the group is rebalancing (or this member is no longer in it) aborts
   * the chunk's signal: it goes back uncommitted.
   */
  private keepAlive(heartbeat: () => Promise<void>): { signal: AbortSignal; end(): void } {
    const controller = new AbortController();
    this.inHand.add(controller);
    if (this.stopping) controller.abort(new Error('the consumer is stopping'));
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        if (isMembershipError(error) && !controller.signal.aborted)
          controller.abort(new Error(`the group is rebalancing: ${errorMessage(error)}`));
      });
    }, HEARTBEAT_EVERY_MS);
    return {
      signal: controller.signal,
      end: () => {
        clearInterval(timer);
        this.inHand.delete(controller);
      },
    };
  }

  private async processChunk(
    records: InboundRecord[],
    heartbeat: () => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const { maxAttempts = 5, backoff = { initialMs: 200, maxMs: 10_000 }, logger, service } = this.options;
    const final = new Map<InboundRecord, Outcome>();
    /** Attempts actually made per record: a permanent error on the first one dead-letters at 1. */
    const attempts = new Map<InboundRecord, number>();
    // A record of another contract than its topic's is dead before any handler reads it.
    let pending: InboundRecord[] = [];
    for (const record of records) {
      try {
        refuseOtherSchema(record.topic, record.headers);
        pending.push(record);
      } catch (error) {
        final.set(record, { kind: 'dead', error });
        attempts.set(record, 1);
      }
    }
    for (let attempt = 1; pending.length > 0; attempt++) {
      const outcomes = await this.runHandler(pending, { heartbeat, attempt, maxAttempts, signal });
      // Given back (a signal, the handler found a fault no record is to blame for, a rebalance):
      // a retry waits, uncommitted, for the next fetch instead of being dead-lettered on the last attempt.
      if ((this.stopping || signal.aborted) && outcomes.some((outcome) => outcome.kind === 'retry'))
        throw new ChunkGivenBack(givenBackReason(signal, this.stopping));
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
            records: again.length,
            attempt,
            delayMs: delay,
            error: errorMessage(outcomeError(outcomes, pending, again[0]!)),
          },
          'transient failure, retrying',
        );
        await this.sleepWithHeartbeat(delay, heartbeat, signal);
      }
      pending = again;
    }

    const outputs: Array<[string, Message]> = [];
    const deadLetters: Array<{ record: InboundRecord; error: unknown }> = [];
    const alreadyDead: InboundRecord[] = [];
    for (const record of records) {
      const outcome = final.get(record)!;
      if (outcome.kind === 'done') {
        for (const out of outcome.outputs ?? []) {
          outputs.push([
            out.topic,
            { key: out.key, value: out.value, headers: out.headers, timestamp: out.timestamp },
          ]);
        }
      } else if (outcome.kind === 'dead' && this.options.alreadyDeadLettered?.(record)) {
        alreadyDead.push(record);
      } else if (outcome.kind === 'dead') {
        deadLetters.push({ record, error: outcome.error });
        outputs.push([
          this.options.deadLetterTopic,
          deadLetterRecord(record, outcome.error, service, attempts.get(record)!),
        ]);
      }
    }
    for (const request of produceRequests(outputs)) {
      await this.producer!.sendBatch({
        acks: -1,
        topicMessages: [...request].map(([topic, messages]) => ({ topic, messages })),
      });
    }

    // Only now, acknowledged, is a dead letter on the dead-letter topic (and a record done).
    for (const record of alreadyDead) {
      logger.warn(
        { topic: record.topic, partition: record.partition, offset: record.offset },
        'record already on the dead-letter topic; not sent again',
      );
    }
    for (const { record, error } of deadLetters) {
      logger.error(
        {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          error: errorMessage(error),
        },
        'record sent to the dead-letter topic',
      );
    }
    for (const record of records)
      this.processed?.inc({ topic: record.topic, outcome: final.get(record)!.kind });
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

  private async sleepWithHeartbeat(
    ms: number,
    heartbeat: () => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.stopping || signal.aborted) throw new ChunkGivenBack(givenBackReason(signal, this.stopping));
      await sleep(Math.min(1_000, until - Date.now()));
      await heartbeat();
    }
  }
}

function givenBackReason(signal: AbortSignal, stopping: boolean): string {
  if (signal.aborted && signal.reason instanceof Error) return signal.reason.message;
  return stopping ? 'the consumer is stopping' : 'the chunk was abandoned';
}

/**
 * `outputs` in order, cut into produce requests of at most MAX_PRODUCE_REQUEST_BYTES (a larger record
 * alone), each grouped by topic. Sent one after another, they keep the order of each partition.
 */
export function produceRequests(
  outputs: Array<[string, Message]>,
  maxBytes = MAX_PRODUCE_REQUEST_BYTES,
): Array<Map<string, Message[]>> {
  const requests: Array<Map<string, Message[]>> = [];
  let current = new Map<string, Message[]>();
  let bytes = 0;
  for (const [topic, message] of outputs) {
    const size = encodedRecordSize(message);
    if (current.size > 0 && bytes + size > maxBytes) {
      requests.push(current);
      current = new Map();
      bytes = 0;
    }
    const list = current.get(topic) ?? [];
    list.push(message);
    current.set(topic, list);
    bytes += size;
  }
  if (current.size > 0) requests.push(current);
  return requests;
}

/** Heartbeat answers that mean the member must re-join: what it holds may be another member's. */
const MEMBERSHIP_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'FENCED_INSTANCE_ID',
]);

function isMembershipError(error: unknown): boolean {
  return MEMBERSHIP_ERRORS.has((error as { type?: string } | undefined)?.type ?? '');
}

function outcomeError(outcomes: Outcome[], pending: InboundRecord[], record: InboundRecord): unknown {
  const outcome = outcomes[pending.indexOf(record)];
  return outcome && outcome.kind !== 'done' ? outcome.error : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Whether a consumer does its job, for /readyz; `reason` says what it is doing, or why it is not ready. */
export interface ConsumerHealth {
  ready: boolean;
  reason: string;
}

/** Ready when every part is; otherwise the first part that is not, and why. */
export function combinedHealth(parts: Array<[string, ConsumerHealth]>): ConsumerHealth {
  const down = parts.find(([, health]) => !health.ready);
  if (down) return { ready: false, reason: `${down[0]}: ${down[1].reason}` };
  return { ready: true, reason: parts.map(([name, health]) => `${name}: ${health.reason}`).join('; ') };
}

/**
 * The group's session timeout: a consumer without a fetch or a heartbeat for this long would have
 * been evicted by now; it is stuck (a broker that cannot be reached), not ready.
 */
export const STALLED_AFTER_MS = 30_000;

export interface ConsumerWatchOptions {
  stalledAfterMs?: number;
  /** True once its owner stops the consumer: a crash then is no failure of the service. */
  isStopping?: () => boolean;
  /** kafkajs crashed the consumer; `restart` says whether it starts it again. Not called while stopping. */
  onCrash?: (error: Error, restart: boolean) => void;
  now?: () => number;
}

type WatchedConsumer = Pick<Consumer, 'on' | 'events'>;

/**
 * Follows one kafkajs consumer through its instrumentation events: ready once it has joined its
 * group (GROUP_JOIN), for as long as it fetches or heartbeats (a consumer idle on an empty topic
 * still fetches every few seconds); not ready while it has not joined, once it stopped, crashed
 * (restarting or not), or when it has neither fetched nor heartbeated for `stalledAfterMs` (a broker
 * that cannot be reached: kafkajs retries for a while before it crashes the consumer).
 */
export class ConsumerWatch {
  private state: 'joining' | 'running' | 'restarting' | 'crashed' | 'stopped' = 'joining';
  private lastSign: number;
  private lastProblem: string | undefined;
  private readonly now: () => number;
  private readonly stalledAfterMs: number;

  constructor(
    consumer: WatchedConsumer,
    private readonly options: ConsumerWatchOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.stalledAfterMs = options.stalledAfterMs ?? STALLED_AFTER_MS;
    this.lastSign = this.now();
    const { events } = consumer;
    consumer.on(events.GROUP_JOIN, () => {
      this.state = 'running';
      this.lastProblem = undefined;
      this.lastSign = this.now();
    });
    const sign = () => {
      this.lastSign = this.now();
    };
    consumer.on(events.FETCH, sign);
    consumer.on(events.HEARTBEAT, sign);
    consumer.on(events.REQUEST_TIMEOUT, (event) => {
      const { apiName, broker } = event.payload;
      this.lastProblem = `${apiName} request to ${broker} timed out`;
    });
    // kafkajs stops and disconnects a consumer before it reports the crash (below).
    const stopped = () => {
      if (this.state !== 'crashed') this.state = 'stopped';
    };
    consumer.on(events.STOP, stopped);
    consumer.on(events.DISCONNECT, stopped);
    consumer.on(events.CRASH, (event) => {
      const { error, restart } = event.payload as { error: Error; restart: boolean };
      this.lastProblem = errorMessage(error);
      this.state = restart ? 'restarting' : 'crashed';
      if (!this.options.isStopping?.()) this.options.onCrash?.(error, restart);
    });
  }

  health(): ConsumerHealth {
    switch (this.state) {
      case 'joining':
        return { ready: false, reason: 'joining its group' };
      case 'stopped':
        return { ready: false, reason: 'stopped' };
      case 'restarting':
        return { ready: false, reason: `crashed, kafkajs restarts it: ${this.lastProblem}` };
      case 'crashed':
        return { ready: false, reason: `crashed for good: ${this.lastProblem}` };
      case 'running': {
        const silentMs = this.now() - this.lastSign;
        if (silentMs <= this.stalledAfterMs) return { ready: true, reason: 'consuming' };
        const last = this.lastProblem ? ` (last: ${this.lastProblem})` : '';
        return {
          ready: false,
          reason: `no fetch nor heartbeat for ${Math.round(silentMs / 1000)} s${last}`,
        };
      }
    }
  }
}

/** Per registry: each consumer group's readiness, reported by one `trendradar_consumer_up` gauge. */
const consumersUp = new WeakMap<Registry, Map<string, () => boolean>>();

/**
 * `trendradar_consumer_up{group}`: 1 while the consumer runs (joined, not crashed, not stuck), 0
 * otherwise; read at each scrape. `group` is the group id of a committing consumer, the label of a
 * follower (whose group id changes with each process): one series per consumer of the service.
 */
export function reportConsumerUp(registry: Registry, group: string, up: () => boolean): void {
  let groups = consumersUp.get(registry);
  if (!groups) {
    const known = new Map<string, () => boolean>();
    groups = known;
    consumersUp.set(registry, known);
    new Gauge({
      name: 'trendradar_consumer_up',
      help: '1 while the consumer group member runs (joined, fetching or heartbeating), 0 when it is not (joining, stopped, crashed, stuck).',
      labelNames: ['group'],
      registers: [registry],
      collect() {
        for (const [name, isUp] of known) this.set({ group: name }, isUp() ? 1 : 0);
      },
    });
  }
  groups.set(group, up);
}

type FailureListener = (error: Error) => void;
const failureListeners = new Set<FailureListener>();
let unheardFailure: Error | undefined;

/**
 * A part of the service (a consumer kafkajs will not restart) failed for good and its owner gave no
 * `onFatal`: whoever runs the service stops it, non-zero (`stopOnSignals`), so that it is restarted.
 * Kept until somebody listens if nobody does yet (a crash between the start and `stopOnSignals`).
 */
export function failService(error: Error): void {
  if (failureListeners.size === 0) {
    unheardFailure ??= error;
    return;
  }
  for (const listener of failureListeners) listener(error);
}

/** Calls `listener` on `failService` (at once for a failure nobody heard yet). Returns the unsubscribe. */
export function onServiceFailure(listener: FailureListener): () => void {
  failureListeners.add(listener);
  if (unheardFailure) {
    const error = unheardFailure;
    unheardFailure = undefined;
    listener(error);
  }
  return () => failureListeners.delete(listener);
}

/** A stop after a failure that hangs still ends the process. */
const FAILURE_EXIT_AFTER_MS = 30_000;

/**
 * Stops the service on SIGTERM/SIGINT (finish the batch, commit, leave the group, then exit 0), and
 * on a failure of one of its parts (`failService`: a consumer kafkajs crashed for good) the same
 * way, but exiting 1, so that a supervisor restarts it.
 */
/** A second signal this soon after the first is the same stop, delivered twice. */
const DUPLICATE_SIGNAL_MS = 1_000;

export function stopOnSignals(logger: Logger, ...closers: Array<() => Promise<void>>): void {
  let closing = false;
  const shutdown = async (why: Record<string, string>, code: number) => {
    if (closing) return;
    closing = true;
    logger.info(why, 'shutting down');
    if (code !== 0) setTimeout(() => process.exit(code), FAILURE_EXIT_AFTER_MS).unref();
    for (const close of closers) {
      await close().catch((error) => logger.error({ error: errorMessage(error) }, 'error during shutdown'));
    }
    process.exit(code);
  };
  // One stop can arrive twice at once (a supervisor signalling the process group reaches the
  // service and the launcher, which passes it on): a repeat within a second is that same stop. A
  // later one is somebody asking again, and the service stops at once, undrained.
  let signalledAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalledAt === undefined) {
      signalledAt = Date.now();
      void shutdown({ signal }, 0);
    } else if (Date.now() - signalledAt > DUPLICATE_SIGNAL_MS) {
      logger.warn({ signal }, 'asked again: stopping now, without draining');
      process.exit(130);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  onServiceFailure((error) => {
    logger.error(
      { error: errorMessage(error) },
      'a part of the service failed for good: stopping, to be restarted',
    );
    void shutdown({ failure: errorMessage(error) }, 1);
  });
}
