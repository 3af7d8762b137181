/**
 * The catalogue as the embedder knows it: the latest views of every SKU of its model, fed by the
 * compacted topic, and the searchable index built from them. Changes are cheap (a map update);
 * the index is rebuilt as a whole (whitening is learned on the catalogue) and swapped in at once,
 * so a search never sees a half-built index. The service rebuilds on a worker thread
 * (`rebuildInBackground`): the build takes seconds to minutes and must not stop the event loop.
 *
 * It also keeps each SKU's catalogue facts (name, brand, category), from the same records: the
 * embedder writes the matched SKU's into its mention (a join at the source, like a stream-table
 * join), so a mention can be found by product name, brand and category (docs/search.md).
 */
import { CatalogueIndex, type IndexedProduct } from '../../shared/vision/catalogue-index.ts';
import { buildIndexInBackground } from '../../shared/vision/index-builder.ts';
import type { CatalogueChange } from '../catalogue/catalogue-topic.ts';

export type ApplyResult = 'changed' | 'unchanged' | { ignored: string };

/** What the catalogue says about a SKU beyond its vectors (each absent when the catalogue has none). */
export interface ProductFacts {
  name?: string;
  brand?: string;
  category?: string;
}

function factsOf(embedding: { name: string | null; brand: string | null; category: string | null }) {
  const facts: ProductFacts = {};
  if (embedding.name) facts.name = embedding.name;
  if (embedding.brand) facts.brand = embedding.brand;
  if (embedding.category) facts.category = embedding.category;
  return Object.keys(facts).length > 0 ? facts : undefined;
}

export class CatalogueMemory {
  /** Products under the full key `<sku>|<modelId>@<descriptor>`. */
  private readonly products = new Map<string, IndexedProduct>();
  /**
   * Products found only under the legacy key `<sku>|<modelId>` (a topic written before the
   * descriptor joined the key); a full-key record replaces them. Never both for one SKU.
   */
  private readonly legacy = new Map<string, IndexedProduct>();
  /** Facts of every SKU in `products` or `legacy` that has any, from the same record as its views. */
  private readonly facts = new Map<string, ProductFacts>();
  private current = CatalogueIndex.empty();
  private dirty = false;

  constructor(
    readonly modelId: string,
    readonly descriptor: string,
    readonly dimension: number,
  ) {}

  apply(change: CatalogueChange): ApplyResult {
    if (change.kind === 'ignore') return { ignored: change.reason };
    if (change.kind === 'remove') {
      // A legacy-key tombstone is only ever written when the SKU leaves the model's catalogue
      // (by any sync version): it removes the SKU whatever key its vectors came under.
      const removed = change.legacy
        ? this.legacy.delete(change.sku) || this.products.delete(change.sku)
        : this.products.delete(change.sku);
      if (!removed) return 'unchanged';
      this.facts.delete(change.sku);
      this.dirty = true;
      return 'changed';
    }
    const { embedding } = change;
    if (embedding.descriptor !== this.descriptor || embedding.dimension !== this.dimension) {
      // Vectors of another descriptor pipeline live in another space: mixing them in would mis-match.
      return {
        ignored: `${embedding.sku} has descriptor ${embedding.descriptor}/${embedding.dimension}, this worker computes ${this.descriptor}/${this.dimension}`,
      };
    }
    if (change.legacy && this.products.has(embedding.sku)) return 'unchanged'; // the full key wins
    const product = {
      sku: embedding.sku,
      style: embedding.style,
      views: embedding.views
        .filter((v) => v.vector.length === this.dimension)
        .map((v) => ({ view: v.view, vector: Float32Array.from(v.vector) })),
    };
    if (change.legacy) this.legacy.set(embedding.sku, product);
    else {
      this.products.set(embedding.sku, product);
      this.legacy.delete(embedding.sku);
    }
    const facts = factsOf(embedding);
    if (facts) this.facts.set(embedding.sku, facts);
    else this.facts.delete(embedding.sku);
    this.dirty = true;
    return 'changed';
  }

  /** Every SKU's product: the full-key record, else the legacy one. */
  private all(): IndexedProduct[] {
    return [...this.products.values(), ...this.legacy.values()];
  }

  get pending(): boolean {
    return this.dirty;
  }

  /** Rebuilds the index from the current products (when something changed) and returns it. */
  rebuild(): CatalogueIndex {
    if (this.dirty) {
      this.current = CatalogueIndex.build(this.all().sort((a, b) => a.sku.localeCompare(b.sku)));
      this.dirty = false;
    }
    return this.current;
  }

  /**
   * The same as `rebuild`, built on a worker thread: the previous index keeps serving until the new
   * one is swapped in. Changes applied meanwhile leave `pending` set (the next rebuild takes them);
   * a failed build leaves it set too. One at a time (the caller serialises).
   */
  async rebuildInBackground(signal?: AbortSignal): Promise<CatalogueIndex> {
    if (!this.dirty) return this.current;
    // A snapshot: apply() replaces or deletes entries, it never changes a product in place.
    const snapshot = this.all();
    this.dirty = false;
    try {
      this.current = await buildIndexInBackground(snapshot, signal ? { signal } : {});
    } catch (error) {
      this.dirty = true;
      throw error;
    }
    return this.current;
  }

  get index(): CatalogueIndex {
    return this.current;
  }

  /**
   * The SKU's catalogue facts now: a renamed product is named anew at once, before the index is
   * rebuilt; undefined when the catalogue names none, or the SKU left it.
   */
  factsOf(sku: string): ProductFacts | undefined {
    return this.facts.get(sku);
  }

  get skuCount(): number {
    return this.products.size + this.legacy.size;
  }
}
