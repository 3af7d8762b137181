/**
 * The thread that builds a catalogue index (index-builder.ts): the whitening fit, the eigen-
 * decomposition, the projection of every view and the IVF k-means take seconds to minutes of
 * plain JavaScript, which on the service's main thread would stop Kafka heartbeats and searches.
 * It receives the views in packed chunks, builds exactly what `CatalogueIndex.build` builds, and
 * transfers the finished arrays back.
 */
import { parentPort } from 'node:worker_threads';
import { CatalogueIndex, type IndexedProduct, type IndexOptions } from './catalogue-index.ts';

export type BuildMessage =
  /** `rows` views of `dimension` values, one after the other. */
  | { kind: 'chunk'; vectors: Float32Array }
  /** Every chunk was sent: `counts[i]` consecutive views belong to `skus[i]` (and `styles[i]`). */
  | {
      kind: 'end';
      skus: string[];
      styles: (string | null)[];
      counts: Int32Array;
      dimension: number;
      options: Partial<IndexOptions>;
    };

export type BuildResult =
  | { kind: 'built'; parts: ReturnType<CatalogueIndex['toParts']> }
  | { kind: 'failed'; message: string };

const port = parentPort!;
const chunks: Float32Array[] = [];

port.on('message', (message: BuildMessage) => {
  if (message.kind === 'chunk') {
    chunks.push(message.vectors);
    return;
  }
  try {
    const parts = build(message).toParts();
    const buffers = new Set<ArrayBuffer>();
    for (const array of [
      parts.rows,
      parts.rowSku,
      parts.whitening?.mean,
      parts.whitening?.projection,
      parts.ivf?.centroids,
      parts.ivf?.cellStart,
      parts.ivf?.prefixes,
    ]) {
      if (array) buffers.add(array.buffer as ArrayBuffer);
    }
    port.postMessage({ kind: 'built', parts } satisfies BuildResult, [...buffers]);
  } catch (error) {
    port.postMessage({ kind: 'failed', message: (error as Error).message } satisfies BuildResult);
  }
});

function build(end: Extract<BuildMessage, { kind: 'end' }>): CatalogueIndex {
  const { skus, styles, counts, dimension: d } = end;
  // The views are read in place (subarrays of the chunks), in the order they were packed.
  let chunk = 0;
  let offset = 0;
  const next = (): Float32Array => {
    while (offset >= chunks[chunk]!.length) {
      chunk++;
      offset = 0;
    }
    const vector = chunks[chunk]!.subarray(offset, offset + d);
    offset += d;
    return vector;
  };
  const products: IndexedProduct[] = skus.map((sku, i) => ({
    sku,
    style: styles[i] ?? null,
    views: Array.from({ length: counts[i]! }, () => ({ view: '', vector: next() })),
  }));
  // The same order as CatalogueMemory.rebuild: the result must not depend on where it was built.
  products.sort((a, b) => a.sku.localeCompare(b.sku));
  return CatalogueIndex.build(products, end.options);
}
