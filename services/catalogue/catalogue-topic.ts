/**
 * The compacted `catalogue-embeddings` topic: record keys, decoding, and a reader that loads the
 * whole topic (everything present when it starts) and then keeps following it. The topic is the
 * source of truth for the catalogue's vectors: the sync diffs against it, the embedder builds its
 * in-memory index from it. Nothing is committed; every start re-reads the log.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { CatalogueEmbedding } from '../../shared/contracts/events.ts';
import { decode } from '../../shared/kafka/codec.ts';

export const catalogueKey = (sku: string, modelId: string) => `${sku}|${modelId}`;

export type CatalogueChange =
  | { kind: 'upsert'; sku: string; embedding: CatalogueEmbedding }
  | { kind: 'remove'; sku: string }
  /** A record for another model, or one that cannot be read: not ours to use. */
  | { kind: 'ignore'; reason: string };

/** What one record means for the catalogue of `modelId` (pure). */
export function catalogueChange(key: string | null, value: Buffer | null, modelId: string): CatalogueChange {
  if (key === null) return { kind: 'ignore', reason: 'record without a key' };
  const bar = key.lastIndexOf('|');
  if (bar <= 0) return { kind: 'ignore', reason: `key ${key.slice(0, 80)} is not <sku>|<modelId>` };
  const sku = key.slice(0, bar);
  if (key.slice(bar + 1) !== modelId) return { kind: 'ignore', reason: 'another model' };
  if (value === null) return { kind: 'remove', sku };
  let embedding: CatalogueEmbedding;
  try {
    embedding = decode(CatalogueEmbedding, value);
  } catch (error) {
    return { kind: 'ignore', reason: (error as Error).message };
  }
  if (embedding.modelId !== modelId || embedding.sku !== sku) {
    return {
      kind: 'ignore',
      reason: `value (${embedding.sku}, ${embedding.modelId}) disagrees with its key ${key}`,
    };
  }
  return { kind: 'upsert', sku, embedding };
}

export interface TopicReader {
  /** Resolves once every record present at start has been handed over. */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

/** Reads `topic` from the beginning, calling `onBatch` per fetched batch, and keeps following it. */
export async function followTopic(
  kafka: Kafka,
  topic: string,
  label: string,
  onBatch: (messages: KafkaMessage[]) => void,
): Promise<TopicReader> {
  const admin = kafka.admin();
  await admin.connect();
  const pending = new Map<number, bigint>();
  try {
    for (const p of await withLeaderRetry(() => admin.fetchTopicOffsets(topic))) {
      if (BigInt(p.high) > BigInt(p.low)) pending.set(p.partition, BigInt(p.high));
    }
  } finally {
    await admin.disconnect();
  }
  let markCaughtUp!: () => void;
  const caughtUp = new Promise<void>((resolve) => {
    markCaughtUp = resolve;
  });
  if (pending.size === 0) markCaughtUp();
  const consumer = kafka.consumer({
    groupId: `${label}-${process.pid}-${randomBytes(4).toString('hex')}`,
    allowAutoTopicCreation: false,
    // Short long-polls: leaving the group at stop takes a second, not five.
    maxWaitTimeInMs: 1_000,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      onBatch(batch.messages);
      const last = batch.messages[batch.messages.length - 1];
      if (last) resolveOffset(last.offset);
      const target = pending.get(batch.partition);
      if (target !== undefined && BigInt(batch.lastOffset()) + 1n >= target) {
        pending.delete(batch.partition);
        if (pending.size === 0) markCaughtUp();
      }
      await heartbeat();
    },
  });
  return { caughtUp, stop: () => consumer.disconnect() };
}

/** A topic created moments ago may not have a leader yet: wait for it. */
async function withLeaderRetry<T>(work: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const type = (error as { type?: string }).type;
      const retriable =
        type === 'NOT_LEADER_FOR_PARTITION' ||
        type === 'LEADER_NOT_AVAILABLE' ||
        type === 'UNKNOWN_TOPIC_OR_PARTITION';
      if (!retriable || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

/** Reads the topic's current state for one model, then stops: SKU → its latest embedding. */
export async function readCatalogueState(
  kafka: Kafka,
  topic: string,
  modelId: string,
): Promise<Map<string, CatalogueEmbedding>> {
  const state = new Map<string, CatalogueEmbedding>();
  const reader = await followTopic(kafka, topic, 'catalogue-sync', (messages) => {
    for (const message of messages) {
      const change = catalogueChange(message.key?.toString('utf8') ?? null, message.value, modelId);
      if (change.kind === 'upsert') state.set(change.sku, change.embedding);
      else if (change.kind === 'remove') state.delete(change.sku);
    }
  });
  try {
    await reader.caughtUp;
  } finally {
    await reader.stop();
  }
  return state;
}
