/**
 * The compacted `catalogue-embeddings` topic: record keys, decoding, and the sync's view of the
 * topic's current state (read with the shared topic follower). The topic is the
 * source of truth for the catalogue's vectors: the sync diffs against it, the embedder builds its
 * in-memory index from it. Nothing is committed; every start re-reads the log.
 *
 * Keys. A record is keyed `<sku>|<modelId>@<descriptor>`: vectors of another model or another
 * descriptor pipeline live in another space, so each (model, descriptor) keeps its own record and
 * a sync with a new DESCRIPTOR_ID does not overwrite what embedders still on the previous one
 * search (a descriptor bump rolls out like a model switch). The descriptor is joined with `@`, not
 * a second `|`: the topic contract's key is `<sku>|<rest>`, which the indexer and the aggregator
 * parse. The sync also writes every record under the earlier key `<sku>|<modelId>` (the id of the
 * Elasticsearch catalogue document, and what embedders older than the descriptor key read), and
 * tombstones every key of a SKU that leaves the feed; a record under that legacy key is used only
 * where no record under the full key exists (a topic written before the change).
 */
import type { Kafka } from 'kafkajs';
import { CatalogueEmbedding } from '../../shared/contracts/events.ts';
import { decode } from '../../shared/kafka/codec.ts';
import { followTopics } from '../../shared/kafka/topic-follower.ts';

export const catalogueKey = (sku: string, modelId: string, descriptor: string) =>
  `${sku}|${modelId}@${descriptor}`;

/** The key without the descriptor, written alongside (see above). */
export const legacyCatalogueKey = (sku: string, modelId: string) => `${sku}|${modelId}`;

export interface CatalogueKey {
  sku: string;
  modelId: string;
  /** null for a legacy `<sku>|<modelId>` key. */
  descriptor: string | null;
}

export function parseCatalogueKey(key: string): CatalogueKey | null {
  const bar = key.lastIndexOf('|');
  if (bar <= 0 || bar === key.length - 1) return null;
  const rest = key.slice(bar + 1);
  // Model ids are letters, digits, dot, underscore and dash: the first `@` ends the model id.
  const at = rest.indexOf('@');
  if (at === 0 || at === rest.length - 1) return null;
  return at < 0
    ? { sku: key.slice(0, bar), modelId: rest, descriptor: null }
    : { sku: key.slice(0, bar), modelId: rest.slice(0, at), descriptor: rest.slice(at + 1) };
}

export type CatalogueChange =
  /** `legacy`: the record came under the `<sku>|<modelId>` key (a fallback for the full key). */
  | { kind: 'upsert'; sku: string; embedding: CatalogueEmbedding; legacy?: boolean }
  | { kind: 'remove'; sku: string; legacy?: boolean }
  /**
   * Not ours to use: `expected` for records of another model or descriptor (normal on a shared
   * topic), unset for records that cannot be read.
   */
  | { kind: 'ignore'; reason: string; expected?: boolean };

/** What one record means for the catalogue of `modelId` and `descriptor` (pure). */
export function catalogueChange(
  key: string | null,
  value: Buffer | null,
  modelId: string,
  descriptor: string,
): CatalogueChange {
  if (key === null) return { kind: 'ignore', reason: 'record without a key' };
  const parsed = parseCatalogueKey(key);
  if (!parsed) {
    return { kind: 'ignore', reason: `key ${key.slice(0, 80)} is not <sku>|<modelId>@<descriptor>` };
  }
  const { sku } = parsed;
  const legacy = parsed.descriptor === null;
  if (parsed.modelId !== modelId) return { kind: 'ignore', reason: 'another model', expected: true };
  if (!legacy && parsed.descriptor !== descriptor) {
    return { kind: 'ignore', reason: 'another descriptor', expected: true };
  }
  if (value === null) return { kind: 'remove', sku, legacy };
  let embedding: CatalogueEmbedding;
  try {
    embedding = decode(CatalogueEmbedding, value);
  } catch (error) {
    return { kind: 'ignore', reason: (error as Error).message };
  }
  if (
    embedding.modelId !== modelId ||
    embedding.sku !== sku ||
    (!legacy && embedding.descriptor !== descriptor)
  ) {
    return {
      kind: 'ignore',
      reason: `value (${embedding.sku}, ${embedding.modelId}, ${embedding.descriptor}) disagrees with its key ${key}`,
    };
  }
  // A legacy key holds whichever descriptor synced last: another one's vectors are not ours.
  if (legacy && embedding.descriptor !== descriptor) {
    return { kind: 'ignore', reason: 'another descriptor', expected: true };
  }
  return { kind: 'upsert', sku, embedding, legacy };
}

export interface CatalogueState {
  /** SKU → its record for this model and descriptor (a legacy-key record where there is none). */
  current: Map<string, CatalogueEmbedding>;
  /** SKUs of `current` found only under the legacy key: to be written under the full key. */
  legacyOnly: Set<string>;
  /** Every live key of this model, by SKU (all descriptors and the legacy key): what a removal tombstones. */
  keys: Map<string, Set<string>>;
}

/** Reads the topic's current state for one model and descriptor, then stops. */
export async function readCatalogueState(
  kafka: Kafka,
  topic: string,
  modelId: string,
  descriptor: string,
): Promise<CatalogueState> {
  const full = new Map<string, CatalogueEmbedding>();
  const legacy = new Map<string, CatalogueEmbedding>();
  const keys = new Map<string, Set<string>>();
  const reader = await followTopics(kafka, [topic], 'catalogue-sync', (_topic, message) => {
    const key = message.key?.toString('utf8') ?? null;
    const parsed = key === null ? null : parseCatalogueKey(key);
    if (!parsed || parsed.modelId !== modelId) return;
    const live = keys.get(parsed.sku) ?? new Set<string>();
    if (message.value === null) live.delete(key!);
    else live.add(key!);
    if (live.size > 0) keys.set(parsed.sku, live);
    else keys.delete(parsed.sku);
    const change = catalogueChange(key, message.value, modelId, descriptor);
    if (change.kind === 'ignore') {
      // A legacy key now holding another descriptor no longer holds ours.
      if (parsed.descriptor === null) legacy.delete(parsed.sku);
      return;
    }
    if (change.kind === 'upsert') (change.legacy ? legacy : full).set(change.sku, change.embedding);
    else {
      full.delete(change.sku);
      // As in the embedder: a legacy-key tombstone means the SKU left the model's catalogue.
      if (change.legacy) legacy.delete(change.sku);
    }
  });
  try {
    await reader.caughtUp;
  } finally {
    await reader.stop();
  }
  const current = new Map(full);
  const legacyOnly = new Set<string>();
  for (const [sku, embedding] of legacy) {
    if (current.has(sku)) continue;
    current.set(sku, embedding);
    legacyOnly.add(sku);
  }
  return { current, legacyOnly, keys };
}
