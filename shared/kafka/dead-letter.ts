import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { DeadLetterHeaders } from '../contracts/events.ts';

export interface DeadLetterSource {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** The record as it was, plus dlq.* headers saying where it came from and why it failed. */
export function deadLetterRecord(
  source: DeadLetterSource,
  error: unknown,
  service: string,
  attempts: number,
  now = new Date(),
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
  return {
    key: source.message.key,
    value: source.message.value,
    timestamp: String(now.getTime()),
    headers: { ...(source.message.headers as IHeaders | undefined), ...headers },
  };
}
