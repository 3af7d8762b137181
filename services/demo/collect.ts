/** Reads a whole topic once (from the beginning to the end offsets as of now). */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export async function collectTopic(kafka: Kafka, topic: string): Promise<Buffer[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]),
  );
  const values: Buffer[] = [];
  if (remaining.size === 0) return values;
  const consumer = kafka.consumer({ groupId: `collect-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (message.value) values.push(message.value);
        if (Number(message.offset) + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition);
        if (remaining.size === 0) resolve();
      },
    });
  });
  await consumer.disconnect();
  return values;
}
