/**
 * How big a record is on the wire, for cutting produce requests: the broker refuses a partition's
 * record batch over the topic's max.message.bytes (1 MiB by default) for good (a re-send is the same
 * batch), and kafkajs puts what one request holds for a partition in one batch.
 */
import type { IHeaders, Message } from 'kafkajs';

/** Most encoded bytes of one produce request (or one dead letter): under the broker's 1 MiB default. */
export const MAX_PRODUCE_REQUEST_BYTES = 900_000;

/** The fixed part of a v2 record batch (base offset, length, epoch, magic, crc, … record count). */
export const RECORD_BATCH_OVERHEAD = 61;
/** A record's varints at their widest: length, attributes, timestamp and offset deltas, key and value lengths, header count. */
const RECORD_FIXED_MAX = 5 + 1 + 10 + 5 + 5 + 5 + 5;

/** Bytes of a key, value or header value (UTF-8 for a string). */
export const byteLength = (value: Buffer | string | null | undefined) =>
  value == null ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;

/** Upper bound of a message's size inside a record batch (uncompressed, as these producers send). */
export function encodedRecordSize(message: Pick<Message, 'key' | 'value' | 'headers'>): number {
  let size = RECORD_FIXED_MAX + byteLength(message.key) + byteLength(message.value);
  for (const [key, value] of Object.entries((message.headers ?? {}) as IHeaders)) {
    // kafkajs sends an array value as one header per element.
    for (const one of Array.isArray(value) ? value : [value])
      size += 10 + Buffer.byteLength(key) + byteLength(one);
  }
  return size;
}
