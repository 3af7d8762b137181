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
import type { Consumer, IHeaders, Kafka, Message, Producer } from 'kafkajs';
import { PermanentError } from '../../shared/kafka/codec.ts';
import type { InboundRecord } from '../../shared/kafka/consumer-runner.ts';
import { deadLetterRecord } from '../../shared/kafka/dead-letter.ts';
import type { Logger } from '../../shared/observability/logger.ts';
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
  /** Called after each committed transaction with the number of input records it covered. */
  onCommitted?: (records: number) => void;
  onDeadLetter?: (record: InboundRecord, error: unknown) => void;
}

const RESTORE_MARKER = '__restore-marker__';

export class TransactionalStage {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private readonly tasks = new Map<number, PartitionTask>();
  private readonly needsRestore = new Set<number>();
  private readonly lastRecordAt = new Map<number, number>();
  private assigned = new Set<number>();
  /** Event time of the next unprocessed record per `topic/partition`, when known. */
  private readonly heads = new Map<string, number>();
  private readonly paused = new Map<string, { topic: string; partition: number }>();
  private lock: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly options: TransactionalStageOptions) {}

  async start(): Promise<void> {
    const { kafka, groupId, transactionalId, inputTopics } = this.options;
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionTimeout: 60_000,
    });
    // Connecting a transactional producer fences any predecessor and aborts its open transaction.
    await this.producer.connect();
    this.consumer = kafka.consumer({ groupId, readUncommitted: false, allowAutoTopicCreation: false });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const assignment = event.payload.memberAssignment as Record<string, number[]>;
      const now = new Set(inputTopics.flatMap((t) => assignment[t] ?? []));
      for (const p of this.assigned) if (!now.has(p)) this.tasks.delete(p);
      for (const p of now) {
        if (!this.assigned.has(p) || !this.tasks.has(p)) this.needsRestore.add(p);
        this.lastRecordAt.set(p, Date.now());
      }
      this.assigned = now;
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: inputTopics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (!isRunning() || isStale() || this.stopping || batch.messages.length === 0) return;
        await this.exclusive(async () => {
          if (!this.tasks.has(batch.partition)) this.needsRestore.add(batch.partition);
          await this.restorePending();
          const all: InboundRecord[] = batch.messages.map((message) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers ?? {},
            timestamp: Number(message.timestamp),
            message,
          }));
          const records = this.alignedPrefix(batch.topic, batch.partition, all);
          this.lastRecordAt.set(batch.partition, Date.now());
          if (records.length > 0) {
            const last = records[records.length - 1]!;
            await this.commitWork(batch.partition, records, {
              topic: batch.topic,
              partition: batch.partition,
              offset: (BigInt(last.offset) + 1n).toString(),
            });
            resolveOffset(last.offset);
          }
          if (records.length < all.length) this.pause(batch.topic, batch.partition);
          this.resumeCaughtUp();
        });
        await heartbeat();
      },
    });
    if (this.options.idlePartitionMs) {
      const every = Math.max(200, Math.floor(this.options.idlePartitionMs / 2));
      this.idleTimer = setInterval(() => void this.pushIdlePartitions(), every);
      this.idleTimer.unref();
    }
  }

  /** The records of a batch that are not too far ahead of the other partitions in event time. */
  private alignedPrefix(topic: string, partition: number, records: InboundRecord[]): InboundRecord[] {
    const key = `${topic}/${partition}`;
    const { alignSlackMs } = this.options;
    const task = this.tasks.get(partition);
    if (alignSlackMs === undefined || !task?.eventTimeOf) return records;
    const times = records.map((r) => task.eventTimeOf!(r));
    this.heads.set(key, times[0]!);
    const limit = this.slowestOtherHead(key) + alignSlackMs;
    let count = 0;
    while (count < records.length && !(times[count]! > limit)) count++;
    if (count === records.length) this.heads.delete(key);
    else this.heads.set(key, times[count]!);
    return records.slice(0, count);
  }

  private slowestOtherHead(key: string): number {
    let slowest = Number.POSITIVE_INFINITY;
    for (const [other, head] of this.heads) if (other !== key && head < slowest) slowest = head;
    return slowest;
  }

  private pause(topic: string, partition: number): void {
    this.paused.set(`${topic}/${partition}`, { topic, partition });
    this.consumer?.pause([{ topic, partitions: [partition] }]);
  }

  private resumeCaughtUp(): void {
    for (const [key, tp] of this.paused) {
      const head = this.heads.get(key) ?? Number.NEGATIVE_INFINITY;
      if (head <= this.slowestOtherHead(key) + (this.options.alignSlackMs ?? 0)) {
        this.paused.delete(key);
        this.consumer?.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
      }
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
    partition: number,
    records: InboundRecord[],
    offsets?: { topic: string; partition: number; offset: string },
    advanceTo?: number,
  ): Promise<void> {
    const task = this.tasks.get(partition)!;
    const { changelogTopic, deadLetterTopic, service } = this.options;
    const messages = new Map<string, Message[]>();
    const push = (topic: string, message: Message) => {
      const list = messages.get(topic);
      if (list) list.push(message);
      else messages.set(topic, [message]);
    };
    try {
      for (const record of records) {
        let outputs: Produced[];
        try {
          outputs = task.process(record);
        } catch (error) {
          if (!(error instanceof PermanentError)) throw error;
          this.options.onDeadLetter?.(record, error);
          push(deadLetterTopic, deadLetterRecord(record, error, service, 1));
          continue;
        }
        for (const o of outputs) push(o.topic, toMessage(o));
      }
      if (advanceTo !== undefined && task.advanceTo) {
        for (const o of task.advanceTo(advanceTo)) push(o.topic, toMessage(o));
      }
      for (const [key, value] of task.takeChanges()) {
        push(changelogTopic, { key, value: value === null ? null : JSON.stringify(value), partition });
      }
      const transaction = await this.producer!.transaction();
      try {
        for (const [topic, list] of messages) await transaction.send({ topic, messages: list, acks: -1 });
        if (offsets) {
          await transaction.sendOffsets({
            consumerGroupId: this.options.groupId,
            topics: [
              {
                topic: offsets.topic,
                partitions: [{ partition: offsets.partition, offset: offsets.offset }],
              },
            ],
          });
        }
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => {});
        throw error;
      }
    } catch (error) {
      // The in-memory state ran ahead of what was committed: rebuild it from the changelog.
      this.tasks.delete(partition);
      this.needsRestore.add(partition);
      this.options.logger.warn(
        { partition, error: String(error) },
        'transaction failed; state will be restored',
      );
      throw error;
    }
    this.options.onCommitted?.(records.length);
  }

  private async pushIdlePartitions(): Promise<void> {
    if (this.stopping) return;
    await this.exclusive(async () => {
      if (this.stopping) return;
      const clocks = [...this.tasks]
        .filter(([p]) => !this.needsRestore.has(p))
        .map(([partition, task]) => ({
          partition,
          streamTime: task.streamTime?.() ?? Number.NEGATIVE_INFINITY,
          lastRecordAt: this.lastRecordAt.get(partition) ?? 0,
        }));
      for (const [partition, time] of idleAdvances(clocks, Date.now(), this.options.idlePartitionMs!)) {
        await this.commitWork(partition, [], undefined, time).catch((error) =>
          this.options.logger.warn({ partition, error: String(error) }, 'idle-partition advance failed'),
        );
      }
    });
  }

  /** Restores every newly assigned partition from the changelog, up to a marker written now. */
  private async restorePending(): Promise<void> {
    if (this.needsRestore.size === 0) return;
    const partitions = [...this.needsRestore];
    this.needsRestore.clear();
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
    const waiting = new Set(partitions);
    const reader = kafka.consumer({
      groupId: `${this.options.groupId}-restore-${nonce}`,
      readUncommitted: false,
    });
    let restored = 0;
    await reader.connect();
    try {
      await reader.subscribe({ topic: changelogTopic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        reader
          .run({
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
                task.restore(key, message.value === null ? null : JSON.parse(message.value.toString()));
                restored++;
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await reader.disconnect();
    }
    for (const [p, task] of tasks) {
      task.takeChanges(); // restoring is not a change
      this.tasks.set(p, task);
    }
    logger.info({ partitions, records: restored, changelog: changelogTopic }, 'state restored');
  }
}

function toMessage(o: Produced): Message {
  return { key: o.key, value: o.value, partition: o.partition, headers: o.headers };
}
