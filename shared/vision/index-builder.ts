/**
 * Builds a catalogue index on a worker thread (index-build-worker.ts) and returns the same index
 * `CatalogueIndex.build` would, sorted by SKU. The main thread only packs the views into chunks
 * (a copy of a few MB each, yielding to the event loop between chunks, so Kafka heartbeats and
 * searches on the previous index go on) and receives the finished arrays by transfer. While it
 * runs, the worker holds a second copy of the raw views (4 B × dimension per view).
 */
import { Worker } from 'node:worker_threads';
import type { CatalogueIndex as Index, IndexedProduct, IndexOptions } from './catalogue-index.ts';
import { CatalogueIndex } from './catalogue-index.ts';
import type { BuildMessage, BuildResult } from './index-build-worker.ts';

export interface BackgroundBuildOptions {
  index?: Partial<IndexOptions>;
  /** Aborting terminates the worker; the promise rejects. */
  signal?: AbortSignal;
  /** Views per chunk sent to the worker (the main thread's longest step is packing one chunk). */
  chunkViews?: number;
}

// The worker boots through the same loader shim as the describer workers (TypeScript in workers).
const BOOT = new URL('./worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./index-build-worker.ts', import.meta.url).href;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function buildIndexInBackground(
  products: readonly IndexedProduct[],
  options: BackgroundBuildOptions = {},
): Promise<Index> {
  const { signal } = options;
  signal?.throwIfAborted();
  // Nothing to whiten (an empty or one-view catalogue): no thread needed.
  if (products.reduce((n, p) => n + p.views.length, 0) < 2)
    return CatalogueIndex.build(products, options.index);
  const dimension = products.find((p) => p.views.length > 0)?.views[0]?.vector.length ?? 0;
  const chunkViews = Math.max(1, options.chunkViews ?? 2048);
  const worker = new Worker(BOOT, { workerData: { entry: ENTRY }, execArgv: [] });
  const onAbort = () => void worker.terminate();
  signal?.addEventListener('abort', onAbort, { once: true });
  const result = new Promise<Index>((resolve, reject) => {
    worker.once('message', (message: BuildResult) => {
      if (message.kind === 'built') resolve(CatalogueIndex.fromParts(message.parts));
      else reject(new Error(`catalogue index build failed: ${message.message}`));
    });
    worker.once('error', (error) =>
      reject(new Error(`catalogue index build worker crashed: ${error.message}`)),
    );
    worker.once('exit', (code) =>
      reject(
        signal?.aborted
          ? (signal.reason ?? new Error('aborted'))
          : new Error(`catalogue index build worker exited with code ${code}`),
      ),
    );
  });
  result.catch(() => {}); // awaited below; an early failure must not be unhandled meanwhile
  try {
    const skus: string[] = [];
    const styles: (string | null)[] = [];
    const counts = new Int32Array(products.length);
    let chunk = new Float32Array(chunkViews * dimension);
    let filled = 0;
    const send = async () => {
      const vectors = filled === chunkViews ? chunk : chunk.slice(0, filled * dimension);
      worker.postMessage({ kind: 'chunk', vectors } satisfies BuildMessage, [vectors.buffer as ArrayBuffer]);
      chunk = new Float32Array(chunkViews * dimension);
      filled = 0;
      await yieldToEventLoop();
      signal?.throwIfAborted();
    };
    for (const [i, product] of products.entries()) {
      skus.push(product.sku);
      styles.push(product.style);
      counts[i] = product.views.length;
      for (const view of product.views) {
        if (view.vector.length !== dimension) {
          throw new Error(`${product.sku} has a ${view.vector.length}-value view, the others ${dimension}`);
        }
        chunk.set(view.vector, filled * dimension);
        if (++filled === chunkViews) await send();
      }
    }
    if (filled > 0) await send();
    const end: BuildMessage = { kind: 'end', skus, styles, counts, dimension, options: options.index ?? {} };
    worker.postMessage(end, [counts.buffer]);
    return await result;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}
