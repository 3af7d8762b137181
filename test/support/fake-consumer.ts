/**
 * A kafkajs client whose consumer is fake: no broker, for tests of the consumer runner's own
 * bookkeeping. `deliver` hands one batch of `values` (offsets 0…n−1 on `in`/0, or on `batch.topic`,
 * with `batch.headers` of each value) to the runner's `eachBatch` once it runs; `committed`
 * collects the offsets it commits.
 */
import type { EachBatchPayload, IHeaders, Kafka } from 'kafkajs';

export interface FakeBatch {
  topic?: string;
  headers?: (value: string) => IHeaders;
}

export function fakeConsumerKafka(): {
  kafka: Kafka;
  committed: string[];
  deliver: (values: string[], heartbeat?: () => Promise<void>, batch?: FakeBatch) => Promise<void>;
} {
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const committed: string[] = [];
  const kafka = {
    consumer: () => ({
      events: { START_BATCH_PROCESS: 'consumer.start_batch_process' },
      on: () => () => {},
      connect: async () => {},
      subscribe: async () => {},
      run: async (options: { eachBatch: typeof eachBatch }) => {
        eachBatch = options.eachBatch;
      },
      commitOffsets: async (offsets: { offset: string }[]) => {
        committed.push(...offsets.map((o) => o.offset));
      },
      disconnect: async () => {},
    }),
  } as unknown as Kafka;
  const deliver = (
    values: string[],
    heartbeat: () => Promise<void> = async () => {},
    batch: FakeBatch = {},
  ) =>
    eachBatch!({
      batch: {
        topic: batch.topic ?? 'in',
        partition: 0,
        messages: values.map((value, i) => ({
          offset: String(i),
          key: Buffer.from('k'),
          value: Buffer.from(value),
          headers: batch.headers?.(value) ?? {},
          timestamp: '1700000000000',
          attributes: 0,
        })),
        lastOffset: () => String(values.length - 1),
      },
      resolveOffset: () => {},
      heartbeat,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  return { kafka, committed, deliver };
}
