/**
 * Turns catalogue items into per-view descriptors. Image bytes are hashed first: a view whose hash
 * (for the same model and descriptor) is already known keeps its vector and is not re-embedded.
 * An image that cannot be read or decoded is reported and left out; the product keeps its other
 * views, and a product with no usable view is reported as failed.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ImageFetcher } from '../../shared/net/image-fetcher.ts';
import type { ImageDescriber } from '../../shared/vision/describer.ts';
import type { CatalogueItem, ResolvedImage } from './feed.ts';

export interface EmbeddedView {
  view: string;
  contentHash: string;
  imageUrl?: string;
  vector: Float32Array;
}

export interface EmbeddedProduct {
  item: CatalogueItem;
  views: EmbeddedView[];
}

export interface ImageProblem {
  sku: string;
  view: string;
  location: string;
  message: string;
}

export interface EmbedReport {
  products: EmbeddedProduct[];
  problems: ImageProblem[];
  embedded: number;
  reused: number;
}

export interface EmbedOptions {
  describer: ImageDescriber;
  fetcher?: ImageFetcher;
  /** Known vectors by content hash (same model and descriptor), for incremental syncs. */
  known?: ReadonlyMap<string, Float32Array>;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export async function embedCatalogue(
  items: readonly CatalogueItem[],
  options: EmbedOptions,
): Promise<EmbedReport> {
  const { describer, fetcher, known = new Map(), batchSize = 32 } = options;
  const jobs = items.flatMap((item) => item.images.map((image) => ({ item, image })));
  const views = new Map<CatalogueItem, EmbeddedView[]>(items.map((item) => [item, []]));
  const problems: ImageProblem[] = [];
  let embedded = 0;
  let reused = 0;
  const fail = (item: CatalogueItem, image: ResolvedImage, message: string) =>
    problems.push({ sku: item.sku, view: image.view, location: image.location, message });

  for (let start = 0; start < jobs.length; start += batchSize) {
    const batch = jobs.slice(start, start + batchSize);
    const loaded = await Promise.all(
      batch.map(async ({ item, image }) => {
        try {
          const bytes = await loadImage(image, fetcher);
          return { item, image, bytes, hash: sha256Hex(bytes) };
        } catch (error) {
          fail(item, image, (error as Error).message);
          return null;
        }
      }),
    );
    const fresh = loaded.filter((l): l is NonNullable<typeof l> => l !== null && !known.has(l.hash));
    const results = await describer.describe(fresh.map((l) => l.bytes));
    const vectorByHash = new Map<string, Float32Array>();
    fresh.forEach((l, i) => {
      const result = results[i]!;
      if (result.ok) {
        vectorByHash.set(l.hash, result.vector);
        embedded++;
      } else fail(l.item, l.image, result.error.message);
    });
    for (const l of loaded) {
      if (!l) continue;
      const reusedVector = known.get(l.hash);
      const vector = reusedVector ?? vectorByHash.get(l.hash);
      if (!vector) continue;
      if (reusedVector) reused++;
      views.get(l.item)!.push({
        view: l.image.view,
        contentHash: l.hash,
        ...(l.image.kind === 'url' ? { imageUrl: l.image.location } : {}),
        vector,
      });
    }
    options.onProgress?.(Math.min(start + batchSize, jobs.length), jobs.length);
  }
  return {
    products: items
      .filter((item) => views.get(item)!.length > 0)
      .map((item) => ({ item, views: views.get(item)! })),
    problems,
    embedded,
    reused,
  };
}

async function loadImage(image: ResolvedImage, fetcher: ImageFetcher | undefined): Promise<Buffer> {
  if (image.kind === 'file') return readFile(image.location);
  if (!fetcher) throw new Error('image URLs need a fetcher');
  return (await fetcher.fetch(image.location)).bytes;
}
