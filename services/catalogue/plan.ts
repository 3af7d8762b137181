/**
 * What a sync changes on the catalogue topic (pure): given the topic's current state and the
 * freshly embedded feed, which products to (re)publish, which are unchanged, and which SKUs left the
 * catalogue and get a tombstone. A SKU still named by the feed is never tombstoned, even when its
 * row was invalid or none of its images could be read this time: a bad feed row must not delete a
 * product that was fine yesterday.
 */
import type { CatalogueEmbedding } from '../../shared/contracts/events.ts';
import type { EmbeddedProduct } from './embed-catalogue.ts';

export interface SyncPlan {
  publish: CatalogueEmbedding[];
  unchanged: string[];
  tombstone: string[];
}

export interface PlanInput {
  current: ReadonlyMap<string, CatalogueEmbedding>;
  embedded: readonly EmbeddedProduct[];
  /** Every SKU the feed names, valid or not. */
  feedSkus: ReadonlySet<string>;
  /** SKUs to publish even when unchanged (found only under the legacy key). */
  rewrite?: ReadonlySet<string>;
  /** SKUs with any record of this model on the topic, whatever the descriptor (default: `current`'s). */
  onTopic?: Iterable<string>;
  modelId: string;
  descriptor: string;
  now: Date;
}

export function planSync(input: PlanInput): SyncPlan {
  const { current, embedded, feedSkus, modelId, descriptor, now } = input;
  const publish: CatalogueEmbedding[] = [];
  const unchanged: string[] = [];
  for (const { item, views } of embedded) {
    const next: CatalogueEmbedding = {
      sku: item.sku,
      style: item.style,
      colour: item.colour,
      name: item.name,
      category: item.category,
      brand: item.brand,
      price: item.price,
      modelId,
      descriptor,
      dimension: views[0]!.vector.length,
      views: views.map((v) => ({
        view: v.view,
        contentHash: v.contentHash,
        ...(v.imageUrl ? { imageUrl: v.imageUrl } : {}),
        vector: Array.from(v.vector),
      })),
      updatedAt: now.toISOString(),
    };
    const before = current.get(item.sku);
    if (before && sameContent(before, next) && !input.rewrite?.has(item.sku)) unchanged.push(item.sku);
    else publish.push(next);
  }
  const tombstone = [...new Set(input.onTopic ?? current.keys())].filter((sku) => !feedSkus.has(sku)).sort();
  return { publish, unchanged, tombstone };
}

/** Same product facts, same descriptor, same images in the same order (vectors follow from hashes). */
function sameContent(a: CatalogueEmbedding, b: CatalogueEmbedding): boolean {
  const facts = (e: CatalogueEmbedding) =>
    JSON.stringify([
      e.style,
      e.colour,
      e.name,
      e.category,
      e.brand,
      e.price,
      e.modelId,
      e.descriptor,
      e.dimension,
    ]);
  const images = (e: CatalogueEmbedding) =>
    JSON.stringify(e.views.map((v) => [v.view, v.contentHash, v.imageUrl ?? null]));
  return facts(a) === facts(b) && images(a) === images(b);
}

/** Vectors already on the topic, by image content hash, that are still valid for this descriptor. */
export function knownVectors(
  current: ReadonlyMap<string, CatalogueEmbedding>,
  descriptor: string,
): Map<string, Float32Array> {
  const known = new Map<string, Float32Array>();
  for (const embedding of current.values()) {
    if (embedding.descriptor !== descriptor) continue;
    for (const view of embedding.views) {
      if (view.vector.length === embedding.dimension)
        known.set(view.contentHash, Float32Array.from(view.vector));
    }
  }
  return known;
}
