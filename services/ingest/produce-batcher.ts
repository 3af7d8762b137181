/**
 * Group commit for the producer: records from concurrent requests are gathered for a few
 * milliseconds (or while the previous send is in flight) and sent together, and each request's
 * promise settles when ITS records are acknowledged by the broker (acks=all) — or rejects if that
 * send failed. One send per round keeps ordering per partition (idempotent producer, one in flight).
 */
import type { Message, Producer } from 'kafkajs';

export interface TopicRecord {
  topic: string;
  message: Message;
}

interface Pending {
  records: TopicRecord[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface BatcherOptions {
  lingerMs: number;
  maxRecords: number;
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

  /** Resolves once every record is acknowledged. */
  produce(records: TopicRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      this.pendingRecords += records.length;
      this.schedule();
    });
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
    const byTopic = new Map<string, Message[]>();
    for (const group of round) {
      for (const { topic, message } of group.records) {
        let list = byTopic.get(topic);
        if (!list) {
          list = [];
          byTopic.set(topic, list);
        }
        list.push(message);
      }
    }
    const started = performance.now();
    try {
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      this.options.onSend?.(count, (performance.now() - started) / 1000, true);
      for (const group of round) group.resolve();
    } catch (error) {
      this.options.onSend?.(count, (performance.now() - started) / 1000, false);
      for (const group of round) group.reject(error);
    }
  }
}
