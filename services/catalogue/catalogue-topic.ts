/**
 * The compacted `catalogue-embeddings` topic: record keys, decoding, and the sync's view of the
 * topic's current state (read with the shared topic follower). The topic is the
 * source of truth for the catalogue's vectors: the sync diffs against it, the embedder builds its
 * in-memory index from it. Nothing is committed; every start re-reads the log.
 */
import type { Kafka } from 'kafkajs';
import { CatalogueEmbedding } from '../../shared/contracts/events.ts';
import { decode } from '../../shared/kafka/codec.ts';
import { followTopics } from '../../shared/kafka/topic-follower.ts';

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

/** Reads the topic's current state for one model, then stops: SKU → its latest embedding. */
export async function readCatalogueState(
  kafka: Kafka,
  topic: string,
  modelId: string,
): Promise<Map<string, CatalogueEmbedding>> {
  const state = new Map<string, CatalogueEmbedding>();
  const reader = await followTopics(kafka, [topic], 'catalogue-sync', (_topic, message) => {
    const change = catalogueChange(message.key?.toString('utf8') ?? null, message.value, modelId);
    if (change.kind === 'upsert') state.set(change.sku, change.embedding);
    else if (change.kind === 'remove') state.delete(change.sku);
  });
  try {
    await reader.caughtUp;
  } finally {
    await reader.stop();
  }
  return state;
}
