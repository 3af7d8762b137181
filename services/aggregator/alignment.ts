/**
 * The pure parts of the transactional stage (transactional-stage.ts): event-time alignment of its
 * input partitions (which records of the batches in hand go next) and the packing of a
 * transaction's outputs into produce requests. No I/O: the stage feeds them what it fetched.
 */
import type { Message } from 'kafkajs';
import {
  encodedRecordSize,
  MAX_PRODUCE_REQUEST_BYTES,
  RECORD_BATCH_OVERHEAD,
} from '../../shared/kafka/record-size.ts';

/**
 * The records to process next, as indices into `batches` (one per record, in processing order):
 * the oldest event time first across the batches (like Kafka Streams' record choice), never
 * beyond `slackMs` past `heldBackAt` (the slowest partition without records in hand), and a
 * batch used up on the way holds the rest back at its own time + `slackMs` from then on: its
 * partition's next records have not been fetched yet, and taking the others past them would
 * send the repartitioned output out of event-time order. Unreadable times (NaN) never wait.
 * Without `slackMs` (no alignment) the batches are simply taken in turn.
 */
export function takeInEventTimeOrder(
  batches: ReadonlyArray<{ times: readonly number[]; next: number; reached: number }>,
  heldBackAt: number,
  slackMs: number | undefined,
  max: number,
): number[] {
  const cursor = batches.map((b) => b.next);
  let limit = slackMs === undefined ? Number.POSITIVE_INFINITY : heldBackAt + slackMs;
  const picked: number[] = [];
  while (picked.length < max) {
    let best = -1;
    let bestTime = Number.POSITIVE_INFINITY;
    for (let i = 0; i < batches.length; i++) {
      const at = cursor[i]!;
      if (at >= batches[i]!.times.length) continue;
      const raw = batches[i]!.times[at]!;
      const time = Number.isNaN(raw) ? Number.NEGATIVE_INFINITY : raw;
      if (best < 0 || time < bestTime) {
        best = i;
        bestTime = time;
      }
    }
    if (best < 0 || bestTime > limit) break;
    picked.push(best);
    const at = cursor[best]!;
    cursor[best] = at + 1;
    if (slackMs !== undefined && at + 1 === batches[best]!.times.length) {
      const last = batches[best]!.times[at]!;
      const reached = Number.isNaN(last) ? batches[best]!.reached : Math.max(batches[best]!.reached, last);
      limit = Math.min(limit, reached + slackMs);
    }
  }
  return picked;
}

/** Where one input partition stands, as the stage knows it. */
export interface PartitionPosition {
  /** Event time of the last record processed (−∞ before the first). */
  time: number;
  /**
   * Event time of the first record not yet processed, when a batch left with it: what the
   * partition sends next. NaN while unknown (no batch seen, or its batch was used up).
   */
  headTime: number;
  /** A batch or an end of the partition was seen since the group was joined. */
  seen: boolean;
  /** Its last batch ended at the partition's end: nothing more was there to fetch. */
  caughtUp: boolean;
}

/**
 * The event time a partition WITHOUT records in hand holds the others to, or null when it does
 * not count (like Kafka Streams with its default `max.task.idle.ms` of 0: a task waits for a
 * partition with an empty buffer only while that partition has more data on the broker):
 * - one never heard of holds everything back (−∞) while `unseenCounts`, then stops counting;
 * - a caught-up one does not count (it has nothing to send, and waiting on it made the end of
 *   every replay a chain of waits, one per partition);
 * - any other holds at what it sends next: its head record's time when a batch of it was seen
 *   and left unfinished, else the time of its last record. At −∞, a partition that had only ever
 *   been held back held back every other one: when the batches of all partitions never came in
 *   one fetch together (a copy's large batches came one partition per fetch), nothing ever went.
 */
export function heldBackAt(position: PartitionPosition, unseenCounts: boolean): number | null {
  if (!position.seen) return unseenCounts ? Number.NEGATIVE_INFINITY : null;
  if (position.caughtUp) return null;
  return Number.isNaN(position.headTime) ? position.time : position.headTime;
}

/**
 * The produce requests of one transaction: every topic's messages in order, packed into as few
 * requests as fit under `maxBytes` each (a message bigger than that goes alone). One request per
 * topic and per partial batch cost a round trip each; packed, a transaction is mostly one or two.
 * Sizes are the wire measure every producer here uses (shared/kafka/record-size.ts): each record's
 * encoded size, headers included, and a record batch's overhead for each topic in a request.
 */
export function produceRequestsOf(
  messages: ReadonlyMap<string, Message[]>,
  maxBytes: number = MAX_PRODUCE_REQUEST_BYTES,
): Array<Array<{ topic: string; messages: Message[] }>> {
  const requests: Array<Array<{ topic: string; messages: Message[] }>> = [];
  let request: Array<{ topic: string; messages: Message[] }> = [];
  let bytes = 0;
  for (const [topic, list] of messages) {
    let part: Message[] = [];
    for (const message of list) {
      const record = encodedRecordSize(message);
      // A topic's first record in a request opens its record batch there.
      let size = record + (part.length === 0 ? RECORD_BATCH_OVERHEAD : 0);
      if (bytes + size > maxBytes && bytes > 0) {
        if (part.length > 0) request.push({ topic, messages: part });
        requests.push(request);
        request = [];
        part = [];
        bytes = 0;
        size = record + RECORD_BATCH_OVERHEAD;
      }
      part.push(message);
      bytes += size;
    }
    if (part.length > 0) request.push({ topic, messages: part });
  }
  if (request.length > 0) requests.push(request);
  return requests;
}
