/**
 * Group commit for the producer: records from concurrent requests are gathered for a few
 * milliseconds (or while the previous send is in flight) and sent together, and each request's
 * promise settles when ITS records are acknowledged by the broker (acks=all) — or rejects if that
 * send failed. Sends go one at a time, in order, which keeps ordering per partition (idempotent
 * producer, one in flight). A round larger than `maxBatchBytes` for a topic goes out as several
 * sends, since the broker refuses a partition's batch over the topic's max.message.bytes.
 *
 * With `timeoutMs`, no request waits longer than that: kafkajs retries a send for as long as the
 * broker is away (the idempotent producer without end, reconnecting for a minute or more), and the
 * requests queued behind it would wait as long. Past its deadline a request rejects with
 * ProduceTimeoutError; records still queued are withdrawn (never sent), records of a send in
 * flight may still reach the broker — the client re-sends with the same event ids and consumers
 * de-duplicate by event id, as for any failed send.
 */
import type { Message, Producer } from 'kafkajs';
import { encodedRecordSize, RECORD_BATCH_OVERHEAD } from '../../shared/kafka/record-size.ts';

export interface TopicRecord {
  topic: string;
  message: Message;
}

/** A request not acknowledged within `timeoutMs`. */
export class ProduceTimeoutError extends Error {
  override name = 'ProduceTimeoutError';
  constructor(
    readonly timeoutMs: number,
    /** False when its records were still queued (withdrawn, never sent); true when a send holds them. */
    readonly inFlight: boolean,
  ) {
    super(
      `the broker did not acknowledge within ${timeoutMs} ms (${inFlight ? 'the send is still retrying' : 'withdrawn before it was sent'})`,
    );
  }
}

/** A record that could not be sent even alone: larger than `maxBatchBytes`. */
export class RecordTooLargeError extends Error {
  override name = 'RecordTooLargeError';
}

interface Pending {
  records: TopicRecord[];
  /** encodedRecordSize of each record, computed once. */
  sizes: number[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One producer send: per topic its messages and their encoded size, and the requests it completes. */
interface Send {
  topics: Map<string, { messages: Message[]; bytes: number }>;
  records: number;
  /** Requests whose last record is in this send: acknowledged once it is. */
  completes: Pending[];
}

export interface BatcherOptions {
  lingerMs: number;
  maxRecords: number;
  /**
   * Most encoded bytes of one topic's records in one send, batch overhead included. A partition's
   * batch is at most its topic's share of the send, so this bounds every batch without knowing
   * the partitioner; keep it under the topics' max.message.bytes (the broker's default is 1 MiB).
   */
  maxBatchBytes: number;
  /**
   * Longest wait for a request's acknowledgement (none when unset or 0); past it the request
   * rejects with ProduceTimeoutError, and its records are withdrawn if they were not sent yet.
   */
  timeoutMs?: number;
  /** Observes every send (size, duration, outcome) for metrics. */
  onSend?: (records: number, seconds: number, ok: boolean) => void;
}

export class ProduceBatcher {
  private pending: Pending[] = [];
  private pendingRecords = 0;
  /** Cancels the scheduled round, if one is scheduled. */
  private cancelScheduled: (() => void) | undefined;
  private sending: Promise<void> | undefined;

  constructor(
    private readonly producer: Pick<Producer, 'sendBatch'>,
    private readonly options: BatcherOptions,
  ) {}

  get waiting(): number {
    return this.pendingRecords;
  }

  /** Resolves once every record is acknowledged; rejects with RecordTooLargeError at once if one never fits. */
  produce(records: TopicRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const sizes = records.map((record) => encodedRecordSize(record.message));
    const largest = sizes.reduce((a, b) => Math.max(a, b), 0);
    if (RECORD_BATCH_OVERHEAD + largest > this.options.maxBatchBytes) {
      return Promise.reject(
        new RecordTooLargeError(
          `a record of ${largest} bytes is over the limit of ${this.options.maxBatchBytes} bytes per batch`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      let deadline: NodeJS.Timeout | undefined;
      const entry: Pending = {
        records,
        sizes,
        resolve: () => {
          clearTimeout(deadline);
          resolve();
        },
        reject: (error) => {
          clearTimeout(deadline);
          reject(error);
        },
      };
      const timeoutMs = this.options.timeoutMs;
      if (timeoutMs) deadline = setTimeout(() => this.expire(entry, timeoutMs), timeoutMs).unref();
      this.pending.push(entry);
      this.pendingRecords += records.length;
      this.schedule();
    });
  }

  /**
   * Fails every request still queued (none of its records sent) with `error`, e.g. once the broker
   * is known unreachable; requests of the send in flight wait for it (or their deadline).
   */
  withdrawQueued(error: Error): number {
    const withdrawn = this.pending;
    this.pending = [];
    this.pendingRecords = 0;
    for (const entry of withdrawn) entry.reject(error);
    return withdrawn.length;
  }

  /** The deadline of a request passed: withdraw its records if still queued, and fail it. */
  private expire(entry: Pending, timeoutMs: number): void {
    const index = this.pending.indexOf(entry);
    if (index >= 0) {
      this.pending.splice(index, 1);
      this.pendingRecords -= entry.records.length;
    }
    // Settling again later (its send acknowledged or failed) does nothing.
    entry.reject(new ProduceTimeoutError(timeoutMs, index < 0));
  }

  /** Sends everything still waiting; resolves when all of it settled. */
  async flush(): Promise<void> {
    while (this.sending || this.pending.length > 0) {
      this.startRound();
      if (this.sending) await this.sending;
    }
  }

  private schedule(): void {
    if (this.sending || this.cancelScheduled) return;
    if (this.pendingRecords >= this.options.maxRecords) {
      this.startRound();
    } else if (this.options.lingerMs > 0) {
      const timer = setTimeout(() => this.startRound(), this.options.lingerMs);
      this.cancelScheduled = () => clearTimeout(timer);
    } else {
      // No linger: the requests of the current tick still join (and records gather while a send is in flight).
      const immediate = setImmediate(() => this.startRound());
      this.cancelScheduled = () => clearImmediate(immediate);
    }
  }

  private startRound(): void {
    this.cancelScheduled?.();
    this.cancelScheduled = undefined;
    if (this.sending || this.pending.length === 0) return;
    this.sending = this.sendRound().finally(() => {
      this.sending = undefined;
      if (this.pending.length > 0) this.schedule();
    });
  }

  private async sendRound(): Promise<void> {
    const round: Pending[] = [];
    let count = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      if (round.length > 0 && count + next.records.length > this.options.maxRecords) break;
      round.push(this.pending.shift()!);
      count += next.records.length;
    }
    this.pendingRecords -= count;
    const sends = this.splitBySize(round);
    for (const [index, send] of sends.entries()) {
      const started = performance.now();
      try {
        await this.producer.sendBatch({
          acks: -1,
          topicMessages: [...send.topics].map(([topic, { messages }]) => ({ topic, messages })),
        });
      } catch (error) {
        this.options.onSend?.(send.records, (performance.now() - started) / 1000, false);
        // Nothing from this send on is acknowledged: every request not yet settled fails (the
        // client re-sends with the same event ids; consumers de-duplicate).
        for (const unsent of sends.slice(index)) for (const group of unsent.completes) group.reject(error);
        return;
      }
      this.options.onSend?.(send.records, (performance.now() - started) / 1000, true);
      for (const group of send.completes) group.resolve();
    }
  }

  /** The round's records in order, cut into sends of at most `maxBatchBytes` per topic. */
  private splitBySize(round: Pending[]): Send[] {
    const newSend = (): Send => ({ topics: new Map(), records: 0, completes: [] });
    const sends = [newSend()];
    for (const group of round) {
      group.records.forEach(({ topic, message }, i) => {
        const size = group.sizes[i]!;
        let send = sends[sends.length - 1]!;
        let batch = send.topics.get(topic);
        if (batch && batch.bytes + size > this.options.maxBatchBytes) {
          send = newSend();
          sends.push(send);
          batch = undefined;
        }
        if (!batch) {
          batch = { messages: [], bytes: RECORD_BATCH_OVERHEAD };
          send.topics.set(topic, batch);
        }
        batch.messages.push(message);
        batch.bytes += size;
        send.records++;
      });
      sends[sends.length - 1]!.completes.push(group);
    }
    return sends;
  }
}
