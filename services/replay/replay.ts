/**
 * Replay for data engineers, as library functions (the CLI in commands.ts adds the progress bar
 * and the confirmation prompt):
 *   copyRange   — copy a source topic's records in [from, until) into a target topic, keys, values,
 *                 headers and timestamps preserved, plus replay.* headers naming the run and source;
 *   planReset / applyReset — move a consumer group's offsets to a point so its service reprocesses.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Batch, IHeaders, Kafka, Message } from 'kafkajs';
import { connectProducer, onFetchWithoutRecords } from '../../shared/kafka/client.ts';
import { headerString } from '../../shared/kafka/codec.ts';
import { KEY_DROPPED_HEADER, VALUE_TRUNCATED_HEADER } from '../../shared/kafka/dead-letter.ts';
import {
  encodedRecordSize,
  MAX_PRODUCE_REQUEST_BYTES,
  RECORD_BATCH_OVERHEAD,
} from '../../shared/kafka/record-size.ts';
import {
  type Bound,
  copyRefusal,
  inTimeWindow,
  type OffsetsAtTime,
  type PartitionRange,
  type PartitionWatermarks,
  planGroupReset,
  planRanges,
  RateLimiter,
  REPLAY_HEADERS,
  ReplayPlanError,
  type ResetPlan,
  rangeSize,
  replaySource,
  targetPartition,
} from './plan.ts';

export interface CopyOptions {
  source: string;
  target: string;
  from: Bound;
  until: Bound;
  /** Records per second; unlimited when absent. */
  ratePerSecond?: number;
  /**
   * Only records whose `dlq.original.topic` header is this topic (dead letters of one topic, to
   * re-drive them onto it); the others are counted as `filtered`.
   */
  originalTopic?: string;
  /**
   * Only dead letters whose `dlq.service` header is this service (e.g. `indexer`); the others are
   * counted as `filtered`. A bad record of a topic that several services consume is dead-lettered
   * once by each of them.
   */
  service?: string;
  dryRun?: boolean;
  /** Called as offsets are passed: `done` of `total` offsets in the planned ranges. */
  onProgress?: (done: number, total: number) => void;
  /** Gives up when the copy makes no progress for this long (a stuck broker should not hang a script). */
  idleTimeoutMs?: number;
  /**
   * Fetch size per partition (kafkajs' default, 1 MiB, when absent). A tiny value makes each
   * fetch return a single record batch (tests use it to split a range over many fetches).
   */
  maxBytesPerPartition?: number;
}

export interface CopyResult {
  replayId: string;
  ranges: PartitionRange[];
  /** Offsets in the ranges (an upper bound on records: compaction leaves gaps). */
  planned: number;
  copied: number;
  /** Records inside the offset ranges but outside the time window. */
  skipped: number;
  /** Records left out by `originalTopic` (dead letters of other topics) or by `service`. */
  filtered: number;
  /**
   * Dead letters left out of a re-drive because they do not carry the original record whole (cut
   * to fit the broker's limit: `dlq.value.truncated`, `dlq.key.dropped`).
   */
  incomplete: number;
  /**
   * Dead letters left out of a re-drive (`originalTopic`) because an earlier one of this run named
   * the same original record (`dlq.original.topic`/`partition`/`offset`): each service consuming
   * the topic dead-letters a bad record once, and a rewound group does it again, but the original
   * is put back once.
   */
  duplicates: number;
  dryRun: boolean;
}

async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

async function watermarks(admin: Admin, topic: string): Promise<PartitionWatermarks[]> {
  return (await admin.fetchTopicOffsets(topic)).map((p) => ({
    partition: p.partition,
    low: BigInt(p.low),
    high: BigInt(p.high),
  }));
}

async function offsetsAt(admin: Admin, topic: string, bound: Bound): Promise<OffsetsAtTime | undefined> {
  if (bound.kind !== 'timestamp') return undefined;
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, bound.ms);
  return new Map(offsets.map((o) => [o.partition, BigInt(o.offset)]));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function planCopy(kafka: Kafka, options: CopyOptions) {
  return withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const metadata = await admin.fetchTopicMetadata({
      topics: [options.source, options.target].filter((t) => existing.has(t)),
    });
    const partitionsOf = (topic: string) => metadata.topics.find((t) => t.name === topic)?.partitions.length;
    const refusal = copyRefusal({
      source: options.source,
      target: options.target,
      existingTopics: existing,
      sourcePartitions: partitionsOf(options.source) ?? 0,
      targetPartitions: partitionsOf(options.target),
    });
    if (refusal) throw new ReplayPlanError(refusal);
    const marks = await watermarks(admin, options.source);
    const ranges = planRanges(
      marks,
      options.from,
      options.until,
      await offsetsAt(admin, options.source, options.from),
      await offsetsAt(admin, options.source, options.until),
    );
    return { ranges, sourcePartitions: marks.length, targetPartitions: partitionsOf(options.target)! };
  });
}

/** Records per produce request. With a rate limit, at most about a second's worth. */
const COPY_CHUNK = 500;
/** Longest single sleep: heartbeats and the stop check happen at least this often. */
const SLEEP_SLICE_MS = 1_000;

/**
 * Where a fetched batch leaves a partition whose position is `position`, or undefined when the
 * batch says nothing about it. A fetch returns every offset from where it started to its last one
 * (`lastOffset()`, which counts transaction markers and aborted records, unlike `messages`);
 * offsets missing in between are gone to compaction. So a batch that starts at or before the
 * position accounts for everything up to its last offset, records or not.
 */
function passedBy(batch: Batch, position: bigint): bigint | undefined {
  // kafkajs keeps the offset it fetched from on the batch (not in its types): every offset from
  // there was returned. Without it, the first record or marker at or after that offset.
  const fetched = (batch as Batch & { fetchedOffset?: string }).fetchedOffset;
  const first = fetched ?? batch.firstOffset();
  if (first === null || BigInt(first) > position) return undefined;
  return BigInt(batch.lastOffset()) + 1n;
}

/**
 * A batch's records cut into produce requests, in order: at most `maxRecords` each and at most
 * `maxBytes` encoded (batch overhead included; a record larger than that goes alone). A full fetch
 * (1 MiB a partition) plus the replay.* headers of every record is over the broker's limit, so a
 * request is cut by size as well as by count.
 */
export function produceChunks<T extends { message: Message }>(
  items: readonly T[],
  maxRecords: number,
  maxBytes: number = MAX_PRODUCE_REQUEST_BYTES,
): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = RECORD_BATCH_OVERHEAD;
  for (const item of items) {
    const size = encodedRecordSize(item.message);
    if (chunk.length > 0 && (chunk.length >= maxRecords || bytes + size > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = RECORD_BATCH_OVERHEAD;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * The message of the innermost error of a kafkajs error chain: the broker's reason, where the
 * consumer's wrapper only says that it gave up. (The CLI adds the broker's error code from the chain.)
 */
function rootCause(error: unknown): string {
  let root = error as { message?: string; cause?: unknown; name?: string } | undefined;
  for (let depth = 0; root?.cause && depth < 10; depth++) root = root.cause as typeof root;
  return root?.message?.trim() || root?.name || String(error);
}

const DLQ_ORIGINAL_TOPIC = 'dlq.original.topic';
const DLQ_ORIGINAL_PARTITION = 'dlq.original.partition';
const DLQ_ORIGINAL_OFFSET = 'dlq.original.offset';
const DLQ_SERVICE = 'dlq.service';
/** A dead letter with one of these is not the original record: re-driven it would only fail again. */
const INCOMPLETE_DEAD_LETTER_HEADERS = [VALUE_TRUNCATED_HEADER, KEY_DROPPED_HEADER];

/**
 * `topic/partition/offset` of the record a dead letter holds, from its `dlq.original.*` headers;
 * undefined when one of them is missing (not a dead letter this pipeline wrote).
 */
export function deadLetterOriginal(headers: IHeaders | undefined): string | undefined {
  const topic = headerString(headers, DLQ_ORIGINAL_TOPIC);
  const partition = headerString(headers, DLQ_ORIGINAL_PARTITION);
  const offset = headerString(headers, DLQ_ORIGINAL_OFFSET);
  if (!topic || !partition || !offset) return undefined;
  return `${topic}/${partition}/${offset}`;
}

export async function copyRange(kafka: Kafka, options: CopyOptions): Promise<CopyResult> {
  const replayId = `replay-${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
  const { ranges, sourcePartitions, targetPartitions } = await planCopy(kafka, options);
  const planned = Number(rangeSize(ranges));
  const result: CopyResult = {
    replayId,
    ranges,
    planned,
    copied: 0,
    skipped: 0,
    filtered: 0,
    incomplete: 0,
    duplicates: 0,
    dryRun: options.dryRun ?? false,
  };
  if (options.dryRun || planned === 0) return result;

  const replayedAt = new Date().toISOString();
  const limiter = options.ratePerSecond ? new RateLimiter(options.ratePerSecond, Date.now()) : undefined;
  // With a rate limit, one produce request holds about a second's worth of records, so progress
  // (and the no-progress watchdog) moves at least that often however low the rate.
  const chunkSize = options.ratePerSecond
    ? Math.max(1, Math.min(COPY_CHUNK, Math.floor(options.ratePerSecond)))
    : COPY_CHUNK;
  // Position per partition: the next offset not yet passed.
  const position = new Map(ranges.map((r) => [r.partition, r.start]));
  const remaining = new Set(ranges.filter((r) => r.end > r.start).map((r) => r.partition));
  const byPartition = new Map(ranges.map((r) => [r.partition, r]));
  /**
   * Per original record (topic/partition/offset), the dead letter (`partition/offset` in the
   * source) this re-drive puts back, so each original goes back once; and the dead letters left
   * out as duplicates. Both by position: after a consumer restart the range is read again from the
   * kept positions, and a dead letter read twice is neither a duplicate of itself nor counted twice.
   */
  const redriven = new Map<string, string>();
  const duplicateLetters = new Set<string>();
  const progress = () =>
    ranges.reduce((sum, r) => sum + Number((position.get(r.partition) ?? r.start) - r.start), 0);

  const producer = await connectProducer(kafka);
  const consumer = kafka.consumer({
    groupId: replayId,
    allowAutoTopicCreation: false,
    maxBytes: 8 * 1024 * 1024,
    ...(options.maxBytesPerPartition ? { maxBytesPerPartition: options.maxBytesPerPartition } : {}),
  });
  let finish!: () => void;
  let fail!: (error: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let lastProgressAt = Date.now();
  /** The last crash kafkajs restarted the consumer after, named if the copy then stalls. */
  let lastCrash: unknown;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgressAt > idleTimeoutMs)
      fail(
        new Error(
          `replay made no progress for ${idleTimeoutMs} ms (at ${progress()} of ${planned} offsets)` +
            (lastCrash === undefined ? '' : `; the consumer last crashed with: ${rootCause(lastCrash)}`),
          lastCrash === undefined ? undefined : { cause: lastCrash },
        ),
      );
  }, 1_000);

  /** Moves a partition's position forward to `to` (capped at its end); done at the end. */
  const advance = (partition: number, to: bigint) => {
    const range = byPartition.get(partition);
    if (!range || !remaining.has(partition)) return;
    const next = to < range.end ? to : range.end;
    if (next <= position.get(partition)!) return;
    position.set(partition, next);
    lastProgressAt = Date.now();
    options.onProgress?.(progress(), planned);
    if (next >= range.end) {
      remaining.delete(partition);
      consumer.pause([{ topic: options.source, partitions: [partition] }]);
      if (remaining.size === 0) finish();
    }
  };

  /** Waits for the rate limiter in slices of at most a second, heartbeating. */
  const throttle = async (count: number, heartbeat: () => Promise<void>, isRunning: () => boolean) => {
    const until = Date.now() + limiter!.take(count, Date.now());
    while (Date.now() < until && isRunning()) {
      await sleep(Math.min(SLEEP_SLICE_MS, until - Date.now()));
      // Waiting for the rate limit is not a stall.
      lastProgressAt = Date.now();
      await heartbeat();
    }
  };

  try {
    // An error that is not retried (a record the broker refuses, a missing topic, …) stops the
    // consumer for good: fail now with it, not a minute later with "no progress". After a retried
    // one, kafkajs restarts the consumer, which reads from the beginning again and skips what was
    // already copied (positions are kept here, not in the group).
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload as { error: unknown; restart: boolean };
      if (restart) {
        lastCrash = error;
        return;
      }
      fail(
        new Error(
          `replay copy failed at ${progress()} of ${planned} offsets (${result.copied} records copied into ` +
            `${options.target}): ${rootCause(error)}`,
          { cause: error },
        ),
      );
    });
    // A fetch holding only transaction markers (or aborted records) never reaches eachBatch, but
    // it moves the partition on: the end of a range written in transactions is a commit marker.
    onFetchWithoutRecords(consumer, ({ topic, partition, next }) => {
      // kafkajs fetches a partition from where its previous batch ended, which is this position.
      if (topic === options.source) advance(partition, next);
    });
    await consumer.connect();
    await consumer.subscribe({ topic: options.source, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat, isRunning }) => {
        const range = byPartition.get(batch.partition);
        if (!range || !remaining.has(batch.partition)) return;
        const pending: Array<{ offset: bigint; message: Message }> = [];
        const start = position.get(batch.partition)!;
        let passed = start;
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          // Records fetched before the seek took effect, or past the end, are not ours.
          if (offset < passed || offset >= range.end) continue;
          passed = offset + 1n;
          if (!inTimeWindow(Number(message.timestamp), options.from, options.until)) {
            result.skipped++;
            continue;
          }
          if (
            options.originalTopic !== undefined &&
            headerString(message.headers, DLQ_ORIGINAL_TOPIC) !== options.originalTopic
          ) {
            result.filtered++;
            continue;
          }
          if (
            options.service !== undefined &&
            headerString(message.headers, DLQ_SERVICE) !== options.service
          ) {
            result.filtered++;
            continue;
          }
          if (
            options.originalTopic !== undefined &&
            INCOMPLETE_DEAD_LETTER_HEADERS.some((name) => headerString(message.headers, name) !== undefined)
          ) {
            result.incomplete++;
            continue;
          }
          // After the incomplete check: a whole dead letter of an original still goes back when an
          // earlier one of it was cut.
          const original =
            options.originalTopic === undefined ? undefined : deadLetterOriginal(message.headers);
          if (original !== undefined) {
            const letter = `${batch.partition}/${message.offset}`;
            const chosen = redriven.get(original);
            if (chosen !== undefined && chosen !== letter) {
              if (!duplicateLetters.has(letter)) {
                duplicateLetters.add(letter);
                result.duplicates++;
              }
              continue;
            }
            redriven.set(original, letter);
          }
          pending.push({
            offset,
            message: {
              key: message.key,
              value: message.value,
              timestamp: message.timestamp,
              partition: targetPartition(batch.partition, sourcePartitions, targetPartitions),
              headers: {
                ...(message.headers as IHeaders | undefined),
                [REPLAY_HEADERS.id]: replayId,
                [REPLAY_HEADERS.source]: replaySource(options.source, batch.partition, message.offset),
                [REPLAY_HEADERS.at]: replayedAt,
              },
            },
          });
        }
        // Compaction gaps, transaction markers and aborted records after the last record.
        const through = passedBy(batch, start);
        if (through !== undefined && through > passed) passed = through;
        for (const chunk of produceChunks(pending, chunkSize)) {
          if (!isRunning()) return;
          if (limiter) await throttle(chunk.length, heartbeat, isRunning);
          if (!isRunning()) return;
          await producer.send({ topic: options.target, acks: -1, messages: chunk.map((c) => c.message) });
          result.copied += chunk.length;
          advance(batch.partition, chunk[chunk.length - 1]!.offset + 1n);
          await heartbeat();
        }
        advance(batch.partition, passed);
      },
    });
    for (const range of ranges) {
      if (range.end > range.start)
        consumer.seek({ topic: options.source, partition: range.partition, offset: range.start.toString() });
      else consumer.pause([{ topic: options.source, partitions: [range.partition] }]);
    }
    if (remaining.size === 0) finish();
    await finished;
    return result;
  } finally {
    clearInterval(watchdog);
    await consumer.disconnect();
    await producer.disconnect();
    // The run's group committed nothing; remove it so it does not linger in group listings.
    await withAdmin(kafka, (admin) => admin.deleteGroups([replayId])).catch(() => undefined);
  }
}

export interface ResetOptions {
  group: string;
  topic: string;
  to: Bound;
}

export async function planReset(kafka: Kafka, options: ResetOptions): Promise<ResetPlan> {
  return withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    if (!existing.has(options.topic)) throw new ReplayPlanError(`topic ${options.topic} does not exist`);
    const [description] = (await admin.describeGroups([options.group])).groups;
    const committed = new Map<number, bigint>();
    for (const topic of await admin.fetchOffsets({ groupId: options.group, topics: [options.topic] })) {
      for (const p of topic.partitions)
        if (BigInt(p.offset) >= 0n) committed.set(p.partition, BigInt(p.offset));
    }
    return planGroupReset(
      {
        group: options.group,
        topic: options.topic,
        state: description?.state ?? 'Dead',
        members: description?.members.length ?? 0,
        committed,
      },
      await watermarks(admin, options.topic),
      options.to,
      await offsetsAt(admin, options.topic, options.to),
    );
  });
}

export async function applyReset(kafka: Kafka, plan: ResetPlan): Promise<void> {
  if (plan.refusal) throw new ReplayPlanError(plan.refusal);
  await withAdmin(kafka, (admin) =>
    admin.setOffsets({
      groupId: plan.group,
      topic: plan.topic,
      partitions: plan.partitions.map((p) => ({ partition: p.partition, offset: p.target.toString() })),
    }),
  );
}
