import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { InvalidRecordError } from '../../../shared/kafka/codec.ts';
import {
  DEAD_LETTER_MAX_BYTES,
  deadLetterRecord,
  TRUNCATED_VALUE_BYTES,
} from '../../../shared/kafka/dead-letter.ts';
import { encodedRecordSize } from '../../../shared/kafka/record-size.ts';

const message = (value: Buffer, headers: KafkaMessage['headers'] = {}): KafkaMessage => ({
  key: Buffer.from('poison'),
  value,
  timestamp: '1740787200000',
  offset: '77',
  attributes: 0,
  headers,
});

const text = (value: unknown) => (value === undefined ? undefined : String(value));

describe('deadLetterRecord size', () => {
  it('a value that fitted its own topic but not the dead-letter topic with the dlq.* headers is cut, and says so', () => {
    // The audit's poison record: ~1 MiB, accepted on uploads; plus the headers it no longer fits.
    const original = Buffer.alloc(1_048_000, 0x61);
    const record = deadLetterRecord(
      { topic: 'ns.uploads.v1', partition: 0, message: message(original, { 'trace-id': Buffer.from('t1') }) },
      new InvalidRecordError('value is not JSON'),
      'embedder',
      1,
    );
    expect(encodedRecordSize(record)).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
    expect((record.value as Buffer).length).toBe(TRUNCATED_VALUE_BYTES);
    expect((record.value as Buffer).equals(original.subarray(0, TRUNCATED_VALUE_BYTES))).toBe(true);
    const headers = record.headers as Record<string, unknown>;
    expect(text(headers['dlq.value.truncated'])).toBe('1048000');
    // Where it came from and why are all kept, and so are the original's own headers and key.
    expect(text(headers['dlq.original.topic'])).toBe('ns.uploads.v1');
    expect(text(headers['dlq.original.partition'])).toBe('0');
    expect(text(headers['dlq.original.offset'])).toBe('77');
    expect(text(headers['dlq.error'])).toBe('value is not JSON');
    expect(text(headers['dlq.error.class'])).toBe('InvalidRecordError');
    expect(text(headers['trace-id'])).toBe('t1');
    expect(record.key?.toString()).toBe('poison');
  });

  it('a record that fits is sent whole, without a truncation header', () => {
    const original = Buffer.alloc(DEAD_LETTER_MAX_BYTES - 10_000, 0x62);
    const record = deadLetterRecord(
      { topic: 'ns.uploads.v1', partition: 1, message: message(original) },
      new Error('boom'),
      'indexer',
      5,
    );
    expect(record.value).toBe(original);
    expect((record.headers as Record<string, unknown>)['dlq.value.truncated']).toBeUndefined();
  });

  it('leaves out the original headers when they alone do not fit, and says how many there were', () => {
    const big = Buffer.alloc(300_000, 0x63);
    const record = deadLetterRecord(
      {
        topic: 'ns.mentions.v1',
        partition: 2,
        message: message(Buffer.from('{}'), { a: big, b: big, c: big, 'dlq.error': 'an earlier failure' }),
      },
      new Error('boom'),
      'indexer',
      1,
    );
    expect(encodedRecordSize(record)).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
    const headers = record.headers as Record<string, unknown>;
    expect(text(headers['dlq.headers.dropped'])).toBe('3');
    expect(headers.a).toBeUndefined();
    expect(text(headers['dlq.error'])).toBe('boom');
    expect(record.value?.toString()).toBe('{}');
  });
});
