import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { DeadLetterHeaders } from '../contracts/events.ts';
import { byteLength, encodedRecordSize, MAX_PRODUCE_REQUEST_BYTES } from './record-size.ts';

export interface DeadLetterSource {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/**
 * Encoded bytes a dead letter holds at most. The original may be larger (it fitted its own topic,
 * or a header was added): a dead letter that the broker refuses would stop the consumer that sends
 * it, for good.
 */
export const DEAD_LETTER_MAX_BYTES = MAX_PRODUCE_REQUEST_BYTES;
/** What is kept of a value that does not fit: enough to see what it was. */
export const TRUNCATED_VALUE_BYTES = 64 * 1024;
/** Set when the value was cut to its first TRUNCATED_VALUE_BYTES: the original value's size in bytes. */
export const VALUE_TRUNCATED_HEADER = 'dlq.value.truncated';
/** Set when the original headers were left out to fit: how many there were. */
export const HEADERS_DROPPED_HEADER = 'dlq.headers.dropped';
/** Set when the original key was left out to fit: its size in bytes. */
export const KEY_DROPPED_HEADER = 'dlq.key.dropped';

/**
 * The record as it was, plus dlq.* headers saying where it came from and why it failed. One that
 * would not fit under DEAD_LETTER_MAX_BYTES keeps its dlq.* headers and loses what it must, noted
 * in a header: first its value (cut, `dlq.value.truncated`), then its own headers
 * (`dlq.headers.dropped`), then its key (`dlq.key.dropped`).
 */
export function deadLetterRecord(
  source: DeadLetterSource,
  error: unknown,
  service: string,
  attempts: number,
  now = new Date(),
  maxBytes = DEAD_LETTER_MAX_BYTES,
): Message {
  const err = error instanceof Error ? error : new Error(String(error));
  const headers: DeadLetterHeaders = {
    'dlq.error': err.message.slice(0, 2000),
    'dlq.error.class': err.name,
    'dlq.service': service,
    'dlq.original.topic': source.topic,
    'dlq.original.partition': String(source.partition),
    'dlq.original.offset': source.message.offset,
    'dlq.original.timestamp': source.message.timestamp,
    'dlq.failed.at': now.toISOString(),
    'dlq.attempts': String(attempts),
  };
  // Stamped now, not with the original's timestamp (kept in a header): the broker deletes by
  // timestamp, and a record whose event time is older than this topic's retention would be gone
  // at its next retention check, before anybody could look at it.
  const record: Message & { headers: IHeaders } = {
    key: source.message.key,
    value: source.message.value,
    timestamp: String(now.getTime()),
    headers: { ...(source.message.headers as IHeaders | undefined), ...headers },
  };
  if (encodedRecordSize(record) <= maxBytes) return record;

  const value = source.message.value;
  if (value && value.length > TRUNCATED_VALUE_BYTES) {
    record.value = value.subarray(0, TRUNCATED_VALUE_BYTES);
    record.headers[VALUE_TRUNCATED_HEADER] = String(value.length);
  }
  if (encodedRecordSize(record) > maxBytes) {
    const original = Object.keys(source.message.headers ?? {}).filter((name) => !(name in headers));
    for (const name of original) delete record.headers[name];
    record.headers[HEADERS_DROPPED_HEADER] = String(original.length);
  }
  if (encodedRecordSize(record) > maxBytes && record.key) {
    record.headers[KEY_DROPPED_HEADER] = String(byteLength(record.key));
    record.key = null;
  }
  if (encodedRecordSize(record) > maxBytes && record.value) {
    const room = Math.max(0, maxBytes - (encodedRecordSize(record) - byteLength(record.value)));
    record.headers[VALUE_TRUNCATED_HEADER] ??= String(byteLength(record.value));
    record.value = Buffer.from(record.value).subarray(0, room);
  }
  return record;
}
