import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
}

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own log lines go through pino (warnings and errors only by default). */
export function createKafka({ brokers, clientId }: KafkaConnection, logger?: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      logger[LEVEL_NAMES[entry.level] ?? 'info']({ kafka: entry.namespace, ...rest }, message);
    },
  });
}

/**
 * Idempotent producer: acks=all is forced by kafkajs when idempotent, and one in-flight request
 * per connection keeps ordering within a partition across retries.
 */
export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Java-compatible murmur2, so keys land on the same partitions as with any other client.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return producer;
}
