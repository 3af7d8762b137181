/**
 * The catalogue as the embedder knows it: the latest views of every SKU of its model, fed by the
 * compacted topic, and the searchable index built from them. Changes are cheap (a map update);
 * the index is rebuilt as a whole (whitening is learned on the catalogue) and swapped in at once,
 * so a search never sees a half-built index.
 */
import { CatalogueIndex, type IndexedProduct } from '../../shared/vision/catalogue-index.ts';
import type { CatalogueChange } from '../catalogue/catalogue-topic.ts';

export type ApplyResult = 'changed' | 'unchanged' | { ignored: string };

export class CatalogueMemory {
  private readonly products = new Map<string, IndexedProduct>();
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
      if (!this.products.delete(change.sku)) return 'unchanged';
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
    this.products.set(embedding.sku, {
      sku: embedding.sku,
      style: embedding.style,
      views: embedding.views
        .filter((v) => v.vector.length === this.dimension)
        .map((v) => ({ view: v.view, vector: Float32Array.from(v.vector) })),
    });
    this.dirty = true;
    return 'changed';
  }

  get pending(): boolean {
    return this.dirty;
  }

  /** Rebuilds the index from the current products (when something changed) and returns it. */
  rebuild(): CatalogueIndex {
    if (this.dirty) {
      this.current = CatalogueIndex.build(
        [...this.products.values()].sort((a, b) => a.sku.localeCompare(b.sku)),
      );
      this.dirty = false;
    }
    return this.current;
  }

  get index(): CatalogueIndex {
    return this.current;
  }

  get skuCount(): number {
    return this.products.size;
  }
}
