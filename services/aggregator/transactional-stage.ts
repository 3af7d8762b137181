/**
 * A stateful consume → process → produce stage with exactly-once results, the way Kafka Streams
 * does it: for each batch ONE Kafka transaction holds the outputs, the changed state (to a
 * compacted changelog topic, partition p for input partition p) and the input offsets. A crash
 * aborts the open transaction; read_committed readers never see its outputs, and the restarted
 * stage resumes from the committed offsets with the state restored from the changelog.
 *
 * Restore reads the changelog up to a marker the stage itself writes first (after fencing any
 * predecessor with the same transactional id): no guessing where the end of a transactional log is.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, IHeaders, Kafka, Message, Offsets, Producer, Transaction } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { onFetchWithoutRecords } from '../../shared/kafka/client.ts';
import { PermanentError } from '../../shared/kafka/codec.ts';
import {
  type ConsumerHealth,
  ConsumerWatch,
  type InboundRecord,
} from '../../shared/kafka/consumer-runner.ts';
import { deadLetterRecord } from '../../shared/kafka/dead-letter.ts';
import { byteLength } from '../../shared/kafka/record-size.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import { heldBackAt, type PartitionPosition, produceRequestsOf, takeInEventTimeOrder } from './alignment.ts';
import { ChangelogReader, ChangelogWriter, PARTS_HEADER } from './changelog-parts.ts';
import { idleAdvances } from './idle-partitions.ts';

export interface Produced {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer | null;
  partition?: number;
  headers?: IHeaders;
}

/** The pure logic of one input partition (the same number across co-partitioned input topics). */
export interface PartitionTask {
  restore(key: string, value: unknown): void;
  /** Throws PermanentError for a record that can never be processed (it goes to the dead letters). */
  process(record: InboundRecord): Produced[];
  takeChanges(): Array<[string, unknown]>;
  /** Event time of an input record (NaN if it cannot be read: such records are never held back). */
  eventTimeOf?(record: InboundRecord): number;
  /** For idle-partition handling; stages without event-time windows leave these out. */
  streamTime?(): number;
  advanceTo?(time: number): Produced[];
  /**
   * Where stream time may go once upstream sources silent for the idle time are left out (wall
   * clock); `lagging`: the partition has more records on the broker than it has delivered.
   */
  idleStreamTime?(now: number, lagging: boolean): number;
  /** Event time processed through, for the stage's `progress` records. */
  watermark?(): number;
}

export interface TransactionalStageOptions {
  kafka: Kafka;
  service: string;
  groupId: string;
  transactionalId: string;
  inputTopics: string[];
  changelogTopic: string;
  deadLetterTopic: string;
  logger: Logger;
  createTask(partition: number): PartitionTask;
  /** Wall-clock ms after which a silent partition's stream time follows the others (omit: never). */
  idlePartitionMs?: number;
  /**
   * Event-time alignment across input partitions (like Kafka Streams' timestamp-based record
   * choice): a partition more than this ahead of the slowest partition with pending records waits.
   * Without it a replay would process one partition hours ahead of another and the repartitioned
   * output would arrive out of order. Omit to process batches as they come.
   */
  alignSlackMs?: number;
  /**
   * With alignment: how long a partition that has delivered nothing since the join holds the
   * others back, unless it is known to have nothing to read (default 30 s).
   */
  unseenPartitionMs?: number;
  /**
   * Progress records announcing a task's watermark downstream. They go in the transaction of the
   * task's outputs: at its first transaction before them (the task exists, holding windows back
   * until it reports), and after them whenever its watermark has moved.
   */
  progress?: (partition: number, watermark: number) => Produced[];
  /** Called after each committed transaction with the number of input records it covered. */
  onCommitted?: (records: number) => void;
  onDeadLetter?: (record: InboundRecord, error: unknown) => void;
  /** The stage cannot go on (a non-retriable Kafka error): the owner should exit and be restarted. */
  onFatal?: (error: Error) => void;
}

const RESTORE_MARKER = '__restore-marker__';
const MAX_REQUEST_BYTES = 512 * 1024;
/** A state value larger than this is written to the changelog in parts (see changelog-parts.ts). */
export const MAX_CHANGELOG_VALUE_BYTES = 256 * 1024;
/**
 * Input records per transaction: bounds its size and the work redone after a failure. Each
 * transaction costs a few round trips (offsets, commit) whatever its size: 2,000 rather than 500
 * replayed a backlog about 14 % faster end to end.
 */
const MAX_RECORDS_PER_TRANSACTION = 2_000;

export class TransactionalStage {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private readonly tasks = new Map<number, PartitionTask>();
  /** Each task's changelog encoder, replaced with the task at every restore. */
  private readonly changelogWriters = new Map<number, ChangelogWriter>();
  private readonly needsRestore = new Set<number>();
  private readonly lastRecordAt = new Map<number, number>();
  private assigned = new Set<number>();
  /**
   * Where each input topic-partition stands in event time: what `slowestWithoutRecords` and
   * `takeInEventTimeOrder` (alignment.ts) hold the batches in hand back to.
   */
  private readonly positions = new Map<string, PartitionPosition>();
  private readonly inHand = new Map<string, InHand>();
  /** The last watermark each task has sent (tasks are replaced when restored: they send again). */
  private readonly sentWatermarks = new WeakMap<PartitionTask, number>();
  private joinedAt = Date.now();
  /** Counts group joins, so that a lookup begun for an earlier assignment is not applied to a later one. */
  private joins = 0;
  /** The member id of the last join: a new one means the group evicted this instance meanwhile. */
  private memberId: string | undefined;
  /**
   * The heartbeat of the latest batch, sent before each commit: kafkajs' transactional offset
   * commit carries no group generation, so an instance evicted while it stalled (a long restore,
   * a broker that hung) would otherwise commit its work as a zombie over its successor's.
   */
  private heartbeat: (() => Promise<void>) | undefined;
  private lock: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private watch: ConsumerWatch | undefined;

  constructor(private readonly options: TransactionalStageOptions) {}

  /** Whether the stage's consumer runs (joined, fetching or heartbeating, not crashed): /readyz. */
  health(): ConsumerHealth {
    return this.watch?.health() ?? { ready: false, reason: 'not started' };
  }

  async start(): Promise<void> {
    const { kafka, groupId, transactionalId, inputTopics } = this.options;
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionTimeout: 60_000,
      // kafkajs 2's default, named so that it does not log its notice at every start.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    // Connecting a transactional producer fences any predecessor and aborts its open transaction.
    await this.producer.connect();
    await this.deleteRestoreGroups();
    this.consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      // Every fetch must have room for every partition: with the default 10 MB per response and
      // 1 MB per partition, the last partitions of a backlog are starved, and aligning by event
      // time would wait for them, then give up on them and make their records late. And room for
      // any record batch of each: the broker returns a batch larger than the partition's share
      // only for the first partition of a response, so with 512 KiB a copy's batches (up to
      // 900 KB, `replay copy`) came one partition per fetch. A batch is at most the topic's
      // max.message.bytes (1 MiB by default).
      maxBytesPerPartition: 2 * 1024 * 1024,
      maxBytes: 128 * 1024 * 1024,
    });
    this.watch = new ConsumerWatch(this.consumer, { isStopping: () => this.stopping });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const join = ++this.joins;
      const assignment = event.payload.memberAssignment as Record<string, number[]>;
      const now = new Set(inputTopics.flatMap((t) => assignment[t] ?? []));
      for (const p of this.assigned) if (!now.has(p)) this.tasks.delete(p);
      for (const p of this.needsRestore) if (!now.has(p)) this.needsRestore.delete(p);
      // Rejoined as a new member: another instance may have owned any partition in between, so
      // what this one holds in memory can be stale. Everything is restored from the changelog.
      if (this.memberId !== undefined && event.payload.memberId !== this.memberId) this.tasks.clear();
      this.memberId = event.payload.memberId;
      this.positions.clear();
      this.joinedAt = Date.now();
      for (const topic of inputTopics)
        for (const p of assignment[topic] ?? []) this.positions.set(`${topic}/${p}`, unknownPosition());
      for (const p of now) {
        if (!this.assigned.has(p) || !this.tasks.has(p)) this.needsRestore.add(p);
        this.lastRecordAt.set(p, Date.now());
      }
      this.assigned = now;
      if (this.options.alignSlackMs !== undefined) void this.markCaughtUp(join);
    });
    // A fetch without records still says where the partition stands (caught up or not).
    onFetchWithoutRecords(this.consumer, ({ topic, partition, next, caughtUp }) => {
      const key = `${topic}/${partition}`;
      const position = this.positions.get(key);
      if (!position || this.inHand.has(key)) return;
      position.seen = true;
      position.caughtUp = caughtUp;
      void this.commitPastMarkers(topic, partition, next);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload as { error: Error; restart: boolean };
      this.options.logger.error({ error: String(error), restart }, 'stage consumer crashed');
      if (!restart && !this.stopping) this.options.onFatal?.(error);
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: inputTopics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // With alignment, the batches of all partitions are in hand at once and are taken in
      // event-time order by one pump; without it, one partition at a time.
      partitionsConsumedConcurrently: this.options.alignSlackMs === undefined ? 1 : 64,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        this.heartbeat = heartbeat;
        if (!isRunning() || isStale() || this.stopping || batch.messages.length === 0) return;
        const key = `${batch.topic}/${batch.partition}`;
        const inHand: InHand = {
          key,
          topic: batch.topic,
          partition: batch.partition,
          records: batch.messages.map((message) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers ?? {},
            timestamp: Number(message.timestamp),
            message,
          })),
          times: undefined,
          next: 0,
          // Control records (transaction markers) after the last record count as fetched.
          fetchedEnd: BigInt(batch.lastOffset()) + 1n,
          highWatermark: BigInt(batch.highWatermark),
          resolveOffset,
        };
        const earlier = this.inHand.get(key);
        if (earlier) {
          // Never two batches of one partition in hand: the pump would lose the order.
          this.options.logger.warn(
            { key, earlier: earlier.records[earlier.next]?.offset },
            'overlapping batches',
          );
          return;
        }
        this.inHand.set(key, inHand);
        this.lastRecordAt.set(batch.partition, Date.now());
        const position = this.positions.get(key) ?? unknownPosition();
        position.seen = true;
        position.caughtUp = false;
        this.positions.set(key, position);
        try {
          while (inHand.next < inHand.records.length) {
            if (!isRunning() || isStale() || this.stopping) return;
            let progressed = false;
            await this.exclusive(async () => {
              progressed = await this.pump();
            });
            // Held back by partitions without records in hand: let this fetch round end (their
            // next batches come with the next one), the rest of this batch is fetched again. A
            // short pause first, so that waiting on a caught-up partition is not a busy loop.
            if (!progressed && inHand.next < inHand.records.length) {
              await new Promise((resolve) => setTimeout(resolve, HELD_BACK_PAUSE_MS));
              return;
            }
            await heartbeat();
          }
        } finally {
          // Under the lock: a pump started by another batch may still be taking this batch's
          // records. Leaving before it ends would judge "caught up" on a stale cursor, and a
          // partition wrongly left "not caught up" with nothing more to fetch holds the others
          // back for good (it stalled replays at their end).
          await this.exclusive(async () => {
            this.inHand.delete(key);
            position.caughtUp = inHand.next === inHand.records.length && caughtUpAfter(inHand);
            position.headTime = inHand.next < inHand.records.length ? this.headTimeOf(inHand) : Number.NaN;
          });
        }
      },
    });
    if (this.options.idlePartitionMs) {
      const every = Math.max(200, Math.floor(this.options.idlePartitionMs / 2));
      this.idleTimer = setInterval(() => void this.pushIdlePartitions(), every);
      this.idleTimer.unref();
    }
  }

  /**
   * Takes up to a transaction's worth of records from the batches in hand, oldest event time
   * first across partitions, and commits them in one transaction. False when nothing could go:
   * everything in hand is too far ahead of a partition whose next batch is not here yet.
   */
  private async pump(): Promise<boolean> {
    // A batch of a partition revoked meanwhile is not this instance's to process.
    const batches = [...this.inHand.values()].filter((h) => this.assigned.has(h.partition));
    for (const h of batches) if (!this.tasks.has(h.partition)) this.needsRestore.add(h.partition);
    await this.restorePending();
    for (const h of batches) h.times ??= this.eventTimes(h.partition, h.records);
    const picked = takeInEventTimeOrder(
      batches.map((h) => ({
        times: h.times!,
        next: h.next,
        reached: this.positions.get(h.key)?.time ?? Number.NEGATIVE_INFINITY,
      })),
      this.slowestWithoutRecords(),
      this.options.alignSlackMs,
      MAX_RECORDS_PER_TRANSACTION,
    );
    const cursor = new Map(batches.map((h) => [h, h.next]));
    const items: Array<{ partition: number; record: InboundRecord }> = [];
    for (const index of picked) {
      const h = batches[index]!;
      const at = cursor.get(h)!;
      items.push({ partition: h.partition, record: h.records[at]! });
      cursor.set(h, at + 1);
    }
    if (items.length === 0) return false;
    const moved = batches.filter((h) => cursor.get(h)! > h.next);
    await this.commitWork(
      items,
      moved.map((h) => {
        const at = cursor.get(h)!;
        // A batch used up commits past the transaction markers after its last record, as the
        // Java consumer's position does: a partition read to its end then has nothing left to
        // read (no lag of one marker, and `markCaughtUp` can tell it is caught up).
        const next = at === h.records.length ? h.fetchedEnd : BigInt(h.records[at - 1]!.offset) + 1n;
        return { topic: h.topic, partition: h.partition, offset: next.toString() };
      }),
    );
    for (const h of moved) {
      const at = cursor.get(h)!;
      h.resolveOffset(h.records[at - 1]!.offset);
      h.next = at;
      const position = this.positions.get(h.key)!;
      const time = h.times![at - 1]!;
      if (!Number.isNaN(time)) position.time = Math.max(position.time, time);
      // The head moved on: it is known again when the batch leaves (or it is used up).
      position.headTime = Number.NaN;
    }
    return true;
  }

  /** Event time of the batch's first record not yet processed (NaN if it cannot be read yet). */
  private headTimeOf(h: InHand): number {
    if (h.times) return h.times[h.next]!;
    return this.tasks.has(h.partition) ? this.eventTimes(h.partition, [h.records[h.next]!])[0]! : Number.NaN;
  }

  private eventTimes(partition: number, records: InboundRecord[]): number[] {
    const task = this.tasks.get(partition);
    if (this.options.alignSlackMs === undefined || !task?.eventTimeOf) return records.map(() => Number.NaN);
    return records.map((r) => task.eventTimeOf!(r));
  }

  /**
   * How far the batches in hand may run: the slowest input partition WITHOUT records in hand (no
   * batch, or its batch used up) that still counts (`heldBackAt`).
   */
  private slowestWithoutRecords(): number {
    if (this.options.alignSlackMs === undefined) return Number.POSITIVE_INFINITY;
    const unseenCounts = Date.now() - this.joinedAt < (this.options.unseenPartitionMs ?? ALIGN_UNSEEN_MS);
    let slowest = Number.POSITIVE_INFINITY;
    for (const [key, position] of this.positions) {
      const held = this.inHand.get(key);
      if (held && held.next < held.records.length) continue;
      const constraint = heldBackAt(position, unseenCounts);
      if (constraint !== null && constraint < slowest) slowest = constraint;
    }
    return slowest;
  }

  /**
   * Marks the partitions that have nothing to read (the group's committed offset is at their end)
   * as caught up, right after a join. kafkajs reports nothing at all for a partition whose fetches
   * come back empty, so without this a quiet partition would count as "not started" and hold the
   * others back for the unseen time after every restart or rebalance.
   */
  private async markCaughtUp(join: number): Promise<void> {
    const { kafka, groupId, inputTopics, logger } = this.options;
    const admin = kafka.admin();
    try {
      await admin.connect();
      const committed = await admin.fetchOffsets({ groupId, topics: inputTopics });
      const ends = new Map<string, Array<{ partition: number; high: string; low: string }>>();
      for (const topic of inputTopics) ends.set(topic, await admin.fetchTopicOffsets(topic));
      if (join !== this.joins) return;
      for (const { topic, partitions } of committed) {
        for (const { partition, offset } of partitions) {
          const position = this.positions.get(`${topic}/${partition}`);
          const end = ends.get(topic)?.find((e) => e.partition === partition);
          if (!position || position.seen || !end) continue;
          // No committed offset: the stage starts at the beginning of the partition.
          const next = BigInt(offset) < 0n ? BigInt(end.low) : BigInt(offset);
          if (next >= BigInt(end.high)) {
            position.seen = true;
            position.caughtUp = true;
          }
        }
      }
    } catch (error) {
      logger.warn({ error: String(error) }, 'could not read where the input partitions end');
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** Finishes the transaction in hand, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    await this.exclusive(async () => {});
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }

  /** Stream time of each partition this instance owns (for metrics and tests). */
  streamTimes(): Map<number, number> {
    return new Map([...this.tasks].map(([p, task]) => [p, task.streamTime?.() ?? Number.NaN]));
  }

  private async exclusive(work: () => Promise<void>): Promise<void> {
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      await work();
    } finally {
      release();
    }
  }

  private async commitWork(
    items: Array<{ partition: number; record: InboundRecord }>,
    offsets: Array<{ topic: string; partition: number; offset: string }>,
    advance?: { partition: number; time: number },
  ): Promise<void> {
    const { changelogTopic, deadLetterTopic, service } = this.options;
    const touched = new Set(items.map((i) => i.partition));
    if (advance) touched.add(advance.partition);
    const messages = new Map<string, Message[]>();
    const push = (topic: string, message: Message) => {
      const list = messages.get(topic);
      if (list) list.push(message);
      else messages.set(topic, [message]);
    };
    const sendProgress = (partition: number) => {
      const task = this.tasks.get(partition)!;
      if (!this.options.progress || !task.watermark) return;
      const watermark = task.watermark();
      const sent = this.sentWatermarks.get(task);
      if (sent !== undefined && watermark <= sent) return;
      this.sentWatermarks.set(task, watermark);
      for (const o of this.options.progress(partition, watermark)) push(o.topic, toMessage(o));
    };
    try {
      // Sends only for a task's first transaction (an announcement before its outputs)…
      for (const partition of touched) sendProgress(partition);
      for (const { partition, record } of items) {
        let outputs: Produced[];
        try {
          outputs = this.tasks.get(partition)!.process(record);
        } catch (error) {
          if (!(error instanceof PermanentError)) throw error;
          this.options.onDeadLetter?.(record, error);
          push(deadLetterTopic, deadLetterRecord(record, error, service, 1));
          continue;
        }
        for (const o of outputs) push(o.topic, toMessage(o));
      }
      const advancing = advance ? this.tasks.get(advance.partition) : undefined;
      if (advance && advancing?.advanceTo) {
        for (const o of advancing.advanceTo(advance.time)) push(o.topic, toMessage(o));
      }
      // …and after its outputs whenever its watermark moved.
      for (const partition of touched) sendProgress(partition);
      for (const partition of touched) {
        const writer = this.changelogWriters.get(partition)!;
        for (const [key, value] of this.tasks.get(partition)!.takeChanges()) {
          for (const record of writer.encode(key, value)) push(changelogTopic, { ...record, partition });
        }
      }
      const transaction = await this.producer!.transaction();
      try {
        // All topics in as few produce requests as possible, each under the broker's message
        // size limit (1 MB by default).
        for (const topicMessages of produceRequestsOf(messages, MAX_REQUEST_BYTES))
          await transaction.sendBatch({ topicMessages, acks: -1 });
        if (offsets.length > 0) {
          const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
          for (const o of offsets)
            byTopic.set(o.topic, [
              ...(byTopic.get(o.topic) ?? []),
              { partition: o.partition, offset: o.offset },
            ]);
          // Retried here: kafkajs sends AddOffsetsToTxn once (see `sendOffsetsRetrying`).
          await sendOffsetsRetrying(
            transaction,
            {
              consumerGroupId: this.options.groupId,
              topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
            },
            this.options.logger,
          );
        }
        // Still a member of the group (a heartbeat is sent if one is due): if not, this throws
        // (unknown member, rebalance) and the transaction is aborted, not committed as a zombie.
        await this.heartbeat?.();
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => {});
        throw error;
      }
    } catch (error) {
      if (touched.size === 0) throw error; // offsets only: no state ran ahead
      // The in-memory state ran ahead of what was committed: rebuild it from the changelog.
      for (const partition of touched) {
        this.tasks.delete(partition);
        this.needsRestore.add(partition);
      }
      const largest = [...messages]
        .flatMap(([topic, list]) =>
          list.map((m) => ({ topic, key: String(m.key), bytes: byteLength(m.value) })),
        )
        .sort((x, y) => y.bytes - x.bytes)[0];
      this.options.logger.warn(
        { partitions: [...touched], error: String(error), largest },
        'transaction failed; state will be restored',
      );
      throw error;
    }
    this.options.onCommitted?.(items.length);
  }

  /**
   * Commits the end of a fetch that held only transaction markers (a transaction's commit marker
   * fetched on its own): every record before it was processed, and without this the group would
   * stay one offset short of the partition's end.
   */
  private async commitPastMarkers(topic: string, partition: number, next: bigint): Promise<void> {
    // Whatever still fails after `sendOffsetsRetrying`'s retries (a broker restarting, say): try
    // again a few times, later. Nothing is restored for an offsets-only transaction.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.exclusive(async () => {
          if (this.stopping || !this.assigned.has(partition) || this.inHand.has(`${topic}/${partition}`))
            return;
          await this.commitWork([], [{ topic, partition, offset: next.toString() }]);
        });
        return;
      } catch (error) {
        if (attempt === 5) {
          this.options.logger.warn({ topic, partition, error: String(error) }, 'commit past markers failed');
          return;
        }
        this.options.logger.debug(
          { topic, partition, attempt, error: String(error) },
          'commit past markers: retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }

  private async pushIdlePartitions(): Promise<void> {
    if (this.stopping) return;
    await this.exclusive(async () => {
      if (this.stopping) return;
      const now = Date.now();
      const clocks = [...this.tasks]
        .filter(([p]) => this.assigned.has(p) && !this.needsRestore.has(p))
        .map(([partition, task]) => ({
          partition,
          streamTime: task.streamTime?.() ?? Number.NEGATIVE_INFINITY,
          lastRecordAt: this.lastRecordAt.get(partition) ?? 0,
          lagging: this.options.inputTopics.some((topic) => {
            const position = this.positions.get(`${topic}/${partition}`);
            return position?.seen === true && !position.caughtUp;
          }),
        }));
      const advances = idleAdvances(clocks, now, this.options.idlePartitionMs!);
      // Silent upstream sources left out may take a partition further: whichever goes further.
      for (const clock of clocks) {
        const time =
          this.tasks.get(clock.partition)!.idleStreamTime?.(now, clock.lagging) ?? Number.NEGATIVE_INFINITY;
        if (time > clock.streamTime && time > (advances.get(clock.partition) ?? Number.NEGATIVE_INFINITY))
          advances.set(clock.partition, time);
      }
      for (const [partition, time] of advances) {
        await this.commitWork([], [], { partition, time }).catch((error) =>
          this.options.logger.warn({ partition, error: String(error) }, 'idle-partition advance failed'),
        );
      }
    });
  }

  /**
   * Deletes restore groups (see `restorePending`): the given ones, or else every one of this
   * stage's that is left on the broker (a crash mid-restore; before, each restore committed its
   * offsets and its group stayed, with the whole changelog as lag). The broker deletes only an
   * empty group: one another instance is restoring with right now is refused, and left to it.
   * Best effort: a group left over has no offsets and the broker drops it by itself.
   */
  private async deleteRestoreGroups(groupIds?: string[]): Promise<void> {
    const { kafka, groupId, logger } = this.options;
    const admin = kafka.admin();
    try {
      await admin.connect();
      const ids =
        groupIds ??
        (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => isRestoreGroupOf(groupId, id));
      if (ids.length > 0) await admin.deleteGroups(ids);
    } catch (error) {
      const groups = (error as { groups?: Array<{ groupId: string; error?: { type?: string } }> }).groups;
      const failed = groups?.filter((g) => !IN_USE_OR_GONE.has(g.error?.type ?? ''));
      if (failed?.length === 0) return;
      logger.warn(
        { groups: failed?.map((g) => g.groupId), error: String(error) },
        'could not delete restore groups',
      );
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** Restores every newly assigned partition from the changelog, up to a marker written now. */
  private async restorePending(): Promise<void> {
    // Only what is still assigned: a partition revoked before its restore belongs to another instance.
    const partitions = [...this.needsRestore].filter((p) => this.assigned.has(p));
    this.needsRestore.clear();
    if (partitions.length === 0) return;
    const { kafka, changelogTopic, logger } = this.options;
    const nonce = randomUUID();
    const transaction = await this.producer!.transaction();
    try {
      await transaction.send({
        topic: changelogTopic,
        acks: -1,
        messages: partitions.map((partition) => ({ key: RESTORE_MARKER, value: nonce, partition })),
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      for (const p of partitions) this.needsRestore.add(p);
      throw error;
    }
    const tasks = new Map(partitions.map((p) => [p, this.options.createTask(p)]));
    const readers = new Map(partitions.map((p) => [p, new ChangelogReader()]));
    const writers = new Map(partitions.map((p) => [p, new ChangelogWriter(MAX_CHANGELOG_VALUE_BYTES)]));
    const waiting = new Set(partitions);
    // kafkajs (2.2.4) has no consumer without a group and no assign(): reading the changelog takes
    // a consumer group of its own, one per restore (it reads every partition from the beginning,
    // whatever any earlier restore read). It commits nothing (autoCommit off): a restore cut short
    // by a crash leaves an empty group without offsets, so no lag to report, which the broker drops
    // by itself (offsets.retention.check.interval.ms). And the restore deletes its group once it
    // has left it, so that none is left to list; `start` sweeps those of earlier runs.
    const restoreGroup = restoreGroupOf(this.options.groupId, nonce);
    const reader = kafka.consumer({ groupId: restoreGroup, readUncommitted: false });
    let restored = 0;
    await reader.connect();
    try {
      await reader.subscribe({ topic: changelogTopic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        reader
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const task = tasks.get(batch.partition);
              if (!task || !waiting.has(batch.partition)) return;
              for (const message of batch.messages) {
                const key = message.key?.toString() ?? '';
                if (key === RESTORE_MARKER) {
                  if (message.value?.toString() === nonce) {
                    waiting.delete(batch.partition);
                    if (waiting.size === 0) resolve();
                    return;
                  }
                  continue;
                }
                const parts = message.headers?.[PARTS_HEADER];
                const state = readers
                  .get(batch.partition)!
                  .read(key, message.value, parts === undefined ? undefined : String(parts));
                if (!state) continue;
                task.restore(state.key, state.value);
                writers.get(batch.partition)!.remember(state.key, state.parts);
                restored++;
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await reader.disconnect();
      await this.deleteRestoreGroups([restoreGroup]);
    }
    for (const [p, task] of tasks) {
      task.takeChanges(); // restoring is not a change
      this.tasks.set(p, task);
      this.changelogWriters.set(p, writers.get(p)!);
    }
    // Restoring takes a while: partitions that have not delivered yet get their full chance.
    this.joinedAt = Date.now();
    logger.info({ partitions, records: restored, changelog: changelogTopic }, 'state restored');
  }
}

/** DeleteGroups answers that are no failure: another instance is restoring with it, or it is gone. */
const IN_USE_OR_GONE = new Set(['NON_EMPTY_GROUP', 'GROUP_ID_NOT_FOUND']);

/** The consumer group of one restore of the stage whose group is `groupId`. */
export function restoreGroupOf(groupId: string, nonce: string): string {
  return `${groupId}-restore-${nonce}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isRestoreGroupOf(groupId: string, candidate: string): boolean {
  const prefix = restoreGroupOf(groupId, '');
  return candidate.startsWith(prefix) && UUID.test(candidate.slice(prefix.length));
}

/**
 * Broker errors on AddOffsetsToTxn and TxnOffsetCommit after which the transaction is still open
 * and the request can be sent again, as the Java client's TransactionManager does:
 * CONCURRENT_TRANSACTIONS while the coordinator is still completing the previous transaction (it
 * writes that one's markers after answering its EndTxn), the others while a coordinator loads or
 * moves (kafkajs' names of COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR).
 */
const RETRIABLE_IN_TRANSACTION = new Set([
  'CONCURRENT_TRANSACTIONS',
  'GROUP_LOAD_IN_PROGRESS',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR_FOR_GROUP',
]);

/** The type of a broker error worth sending the transaction's offsets again for, if it is one. */
export function retriableInTransaction(error: unknown): string | undefined {
  // By name: kafkajs' error classes are not named exports Node's ESM loader can see (`...errors`).
  let e: unknown = error;
  for (let depth = 0; e instanceof Error && depth < 3; depth++, e = e.cause) {
    // kafkajs has retried this one already, as long as its retry settings allow.
    if (e.name === 'KafkaJSNumberOfRetriesExceeded') return undefined;
    if (e.name === 'KafkaJSProtocolError') {
      const type = (e as { type?: unknown }).type;
      return typeof type === 'string' && RETRIABLE_IN_TRANSACTION.has(type) ? type : undefined;
    }
  }
  return undefined;
}

export interface RetrySettings {
  attempts: number;
  firstBackoffMs: number;
  maxBackoffMs: number;
}

/** 8 attempts, 20 ms to 500 ms apart: 1.6 s at most, against a transaction timeout of 60 s. */
export const SEND_OFFSETS_RETRY: RetrySettings = { attempts: 8, firstBackoffMs: 20, maxBackoffMs: 500 };

/**
 * `transaction.sendOffsets`, sent again on a retriable broker error. kafkajs 2.2.4 sends
 * AddOffsetsToTxn once, outside its retrier (producer/eosManager `sendOffsets`), and its
 * TxnOffsetCommit retrier looks for coordinator errors under names it never gives them; whereas
 * AddPartitionsToTxn (in `send`/`sendBatch`) is retried. The first AddOffsetsToTxn after a commit,
 * in a transaction with no records, often meets CONCURRENT_TRANSACTIONS: the broker is still
 * writing the previous transaction's markers for a few milliseconds. Aborting for that made the
 * stage restore every partition it touched from the changelog.
 *
 * Sending again is safe within the same transaction, as the Java client does: it is still open
 * (kafkajs leaves its state as it was), adding the group's offsets partition to it again changes
 * nothing, and a TxnOffsetCommit sent again replaces the transaction's pending offsets with the
 * same ones; they still commit or abort with its records, in the one EndTxn. A fenced producer
 * (INVALID_PRODUCER_EPOCH) or any other error fails at once, as before.
 */
export async function sendOffsetsRetrying(
  transaction: Pick<Transaction, 'sendOffsets'>,
  offsets: Offsets & { consumerGroupId: string },
  logger: Pick<Logger, 'debug'>,
  retry: RetrySettings = SEND_OFFSETS_RETRY,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await transaction.sendOffsets(offsets);
      return;
    } catch (error) {
      const type = retriableInTransaction(error);
      if (type === undefined || attempt >= retry.attempts) throw error;
      const backoffMs = Math.min(retry.maxBackoffMs, retry.firstBackoffMs * 2 ** (attempt - 1));
      logger.debug(
        { groupId: offsets.consumerGroupId, error: type, attempt, backoffMs },
        'sending offsets to the transaction: retrying',
      );
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
    }
  }
}

function unknownPosition(): PartitionPosition {
  return { time: Number.NEGATIVE_INFINITY, headTime: Number.NaN, seen: false, caughtUp: false };
}

/** A fetched batch waiting (in memory) for its turn in event-time order. */
interface InHand {
  key: string;
  topic: string;
  partition: number;
  records: InboundRecord[];
  times: number[] | undefined;
  next: number;
  /** Offset after the last record fetched (transaction markers included). */
  fetchedEnd: bigint;
  /** The partition's end when the batch was fetched. */
  highWatermark: bigint;
  resolveOffset(offset: string): void;
}

/** The batch is used up and nothing was left on the broker after it when it was fetched. */
function caughtUpAfter(h: InHand): boolean {
  return h.fetchedEnd >= h.highWatermark;
}

/** Pause of a batch held back before its fetch round ends (see `start`). */
const HELD_BACK_PAUSE_MS = 20;
/**
 * How long after joining (and restoring) a partition that has delivered nothing yet holds the
 * others back, unless the stage is given its own `unseenPartitionMs`.
 */
const ALIGN_UNSEEN_MS = 30_000;

function toMessage(o: Produced): Message {
  return { key: o.key, value: o.value, partition: o.partition, headers: o.headers };
}
