import { describe, expect, it } from 'vitest';
import { DeadLetterHeaders } from '../../../shared/contracts/events.ts';
import { InvalidRecordError } from '../../../shared/kafka/codec.ts';
import { deadLetterRecord } from '../../../shared/kafka/dead-letter.ts';

describe('deadLetterRecord', () => {
  it('keeps the original key, value and headers, adds where and why it failed, and is stamped when it failed', () => {
    const record = deadLetterRecord(
      {
        topic: 'trendradar.uploads.v1',
        partition: 4,
        message: {
          key: Buffer.from('post-9'),
          value: Buffer.from('{"broken'),
          timestamp: '1740787200000', // 2025-03-01: older than the dead-letter topic's retention
          offset: '1234',
          attributes: 0,
          headers: { 'trace-id': Buffer.from('abc') },
        },
      },
      new InvalidRecordError('value is not JSON'),
      'embedder',
      1,
      new Date('2026-03-01T10:00:00Z'),
    );
    expect(record.key?.toString()).toBe('post-9');
    expect(record.value?.toString()).toBe('{"broken');
    // Stamped when it failed, so that retention counts from then; the original is in a header.
    expect(record.timestamp).toBe(String(Date.parse('2026-03-01T10:00:00Z')));
    const headers = record.headers as Record<string, string>;
    expect(headers['trace-id']?.toString()).toBe('abc');
    const parsed = DeadLetterHeaders.parse(
      Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('dlq.'))),
    );
    expect(parsed).toMatchObject({
      'dlq.error': 'value is not JSON',
      'dlq.error.class': 'InvalidRecordError',
      'dlq.service': 'embedder',
      'dlq.original.topic': 'trendradar.uploads.v1',
      'dlq.original.partition': '4',
      'dlq.original.offset': '1234',
      'dlq.failed.at': '2026-03-01T10:00:00.000Z',
      'dlq.original.timestamp': '1740787200000',
    });
  });
});
