/** Reads a whole topic once: everything present when it starts, then stops. */
import type { Kafka } from 'kafkajs';
import { followTopics } from '../../shared/kafka/topic-follower.ts';

export async function collectTopic(kafka: Kafka, topic: string): Promise<Buffer[]> {
  const values: Buffer[] = [];
  const follower = await followTopics(kafka, [topic], 'demo-collect', (_topic, message) => {
    if (message.value) values.push(message.value);
  });
  try {
    await follower.caughtUp;
  } finally {
    await follower.stop();
  }
  return values;
}
