/**
 * The catalogue index built on a worker thread is the index `CatalogueIndex.build` makes (exact scan
 * and IVF alike), and the event loop keeps turning while it is built: a timer that should fire
 * every 10 ms is never held up for long (the synchronous build holds it for the whole build).
 */
import { describe, expect, it } from 'vitest';
import { CatalogueIndex, type IndexOptions } from '../../../shared/vision/catalogue-index.ts';
import { buildIndexInBackground } from '../../../shared/vision/index-builder.ts';
import { DEFAULT_WHITENING } from '../../../shared/vision/whitening.ts';
import { synthetic } from './synthetic-catalogue.ts';

/** Longest gap between the ticks of a 10 ms interval while `work` runs. */
async function longestStall(work: () => Promise<unknown> | unknown): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  try {
    await new Promise((resolve) => setTimeout(resolve, 30));
    last = performance.now();
    await work();
    await new Promise((resolve) => setTimeout(resolve, 30));
  } finally {
    clearInterval(timer);
  }
  return longest;
}

const sameParts = (a: CatalogueIndex, b: CatalogueIndex) => {
  const [pa, pb] = [a.toParts(), b.toParts()];
  expect(pb.skus).toEqual(pa.skus);
  expect(Buffer.compare(Buffer.from(pb.rows.buffer), Buffer.from(pa.rows.buffer))).toBe(0);
  expect(Array.from(pb.rowSku)).toEqual(Array.from(pa.rowSku));
  expect(Array.from(pb.whitening!.projection)).toEqual(Array.from(pa.whitening!.projection));
  expect(pb.ivf === null).toBe(pa.ivf === null);
  if (pa.ivf && pb.ivf) {
    expect(Array.from(pb.ivf.centroids)).toEqual(Array.from(pa.ivf.centroids));
    expect(Array.from(pb.ivf.cellStart)).toEqual(Array.from(pa.ivf.cellStart));
    expect(Array.from(pb.ivf.prefixes)).toEqual(Array.from(pa.ivf.prefixes));
  }
};

describe('catalogue index built on a worker thread', () => {
  // 3,000 views of 384 values: the synchronous build takes about a second on one core.
  const { gallery, query } = synthetic(1000, 384, 3);
  // Shuffled SKU order: the worker sorts like CatalogueMemory.rebuild does.
  const shuffled = [...gallery].reverse();
  const sorted = [...gallery].sort((a, b) => a.sku.localeCompare(b.sku));

  it('gives the synchronous build, without stalling the event loop', async () => {
    let background: CatalogueIndex | undefined;
    const stall = await longestStall(async () => {
      background = await buildIndexInBackground(shuffled, { chunkViews: 512 });
    });
    let synchronous: CatalogueIndex | undefined;
    const blocked = await longestStall(() => {
      synchronous = CatalogueIndex.build(sorted);
    });
    expect(background!.productCount).toBe(1000);
    sameParts(synchronous!, background!);
    for (let p = 0; p < 1000; p += 37) {
      const q = query(p); // a fresh noisy view each call: one query for both
      expect(background!.search(q, 5)).toEqual(synchronous!.search(q, 5));
    }
    // The shared 2-core machine adds noise; the synchronous build blocks for its whole duration.
    expect(stall).toBeLessThan(Math.max(150, blocked / 3));
  });

  it('gives the same IVF index, and stops when aborted', async () => {
    const options: Partial<IndexOptions> = {
      whitening: { ...DEFAULT_WHITENING, dimension: 48 },
      ivf: { minRows: 1000, cells: 0, probes: 8, coarseDimension: 16, trainingRows: 2000, iterations: 4 },
    };
    const small = synthetic(800, 96, 5);
    const background = await buildIndexInBackground([...small.gallery].reverse(), { index: options });
    const synchronous = CatalogueIndex.build(
      [...small.gallery].sort((a, b) => a.sku.localeCompare(b.sku)),
      options,
    );
    expect(background.usesIvf).toBe(true);
    sameParts(synchronous, background);
    const q = small.query(5);
    expect(background.search(q, 5)).toEqual(synchronous.search(q, 5));

    const aborting = new AbortController();
    const building = buildIndexInBackground(shuffled, { signal: aborting.signal });
    setTimeout(() => aborting.abort(new Error('stopping')), 20);
    await expect(building).rejects.toThrow(/stopping/);
  });

  it('needs no thread for an empty catalogue', async () => {
    expect((await buildIndexInBackground([])).productCount).toBe(0);
  });
});
