/** Helpers for integration tests that read what a service produced to a real topic. */
import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface Collected {
  partition: number;
  message: KafkaMessage;
}

/**
 * Reads `topic` from the beginning until `done(records)` holds or `timeoutMs` passes, then
 * returns what it read (the caller asserts; a timeout is not an error here).
 */
export async function collectUntil(
  kafka: Kafka,
  topic: string,
  done: (records: Collected[]) => boolean,
  timeoutMs = 60_000,
): Promise<Collected[]> {
  const consumer = kafka.consumer({ groupId: `collector-${randomBytes(4).toString('hex')}` });
  const records: Collected[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveDone!: () => void;
    const finished = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({ partition, message });
        if (done(records)) resolveDone();
      },
    });
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    return records;
  } finally {
    await consumer.disconnect();
  }
}

export function headerText(message: KafkaMessage, name: string): string | undefined {
  const value = message.headers?.[name];
  return value === undefined ? undefined : String(Array.isArray(value) ? value[0] : value);
}

/** Plain topics for a test (a generic Kafka client needs no contract): [name, partitions] each. */
export async function createTopics(kafka: Kafka, topics: Array<[string, number]>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map(([topic, numPartitions]) => ({ topic, numPartitions })),
    });
  } finally {
    await admin.disconnect();
  }
}
