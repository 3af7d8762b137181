/**
 * Retrieval and open-set evaluation of descriptors on a labelled catalogue (pure: vectors in,
 * figures out). Used by the matching-quality test (test/integration/catalogue), whose figures
 * are the docs/matching.md tables.
 */
import { type Candidate, CatalogueIndex, type IndexedProduct, type IndexOptions } from './catalogue-index.ts';
import { type CalibrationResult, calibrate, decide, type MatchPolicy, share } from './matcher.ts';

export interface LabelledQuery {
  sku: string;
  vector: Float32Array;
}

export interface RetrievalFigures {
  queries: number;
  top1: number;
  top5: number;
}

export function retrieval(
  gallery: readonly IndexedProduct[],
  queries: readonly LabelledQuery[],
  options?: Partial<IndexOptions>,
): RetrievalFigures {
  const index = CatalogueIndex.build(gallery, options);
  let top1 = 0;
  let top5 = 0;
  for (const q of queries) {
    const rank = index.search(q.vector, 5).findIndex((c) => c.sku === q.sku);
    if (rank === 0) top1++;
    if (rank >= 0) top5++;
  }
  return { queries: queries.length, top1: top1 / queries.length, top5: top5 / queries.length };
}

/** Deterministic pseudo-random fraction in [0,1) for a string (FNV-1a), for reproducible splits. */
export function stableFraction(text: string, salt = ''): number {
  let h = 0x811c9dc5;
  for (const ch of salt + text) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

export interface OpenSetFigures {
  removedSkus: number;
  /** The policy learned on each half (used to judge the other half). */
  folds: CalibrationResult[];
  /** Every query judged by the policy learned on the half it is not in (2-fold cross-validation). */
  heldOut: { outside: number; rejected: number; correctTop1: number; kept: number };
  /** The policy learned on all queries: what a deployment on this catalogue would use. */
  overall: CalibrationResult;
}

/**
 * A third of the SKUs (chosen by hash of `salt` and the SKU) leave the gallery; their queries
 * should be rejected. Queries are split in two halves by SKU hash: the threshold and margin are
 * learned on one half (keeping at least `minKept` of its correct top-1 answers) and applied to the
 * other, and the other way round, so every reported figure comes from photos the policy never saw.
 */
export function openSet(
  gallery: readonly IndexedProduct[],
  queries: readonly LabelledQuery[],
  minKept: number,
  salt = 'removed',
  options?: Partial<IndexOptions>,
): OpenSetFigures {
  const removed = new Set(gallery.filter((p) => stableFraction(p.sku, salt) < 1 / 3).map((p) => p.sku));
  const index = CatalogueIndex.build(
    gallery.filter((p) => !removed.has(p.sku)),
    options,
  );
  const samples = queries.map((q) => ({
    candidates: index.search(q.vector, 5),
    truth: removed.has(q.sku) ? null : q.sku,
    half: stableFraction(q.sku, `${salt}-half`) < 0.5 ? 0 : 1,
  }));
  const folds = [0, 1].map((half) =>
    calibrate(
      samples.filter((s) => s.half === half),
      minKept,
    ),
  );
  return {
    removedSkus: removed.size,
    folds,
    heldOut: measure(samples.map((s) => ({ ...s, policy: folds[1 - s.half]! }))),
    overall: calibrate(samples, minKept),
  };
}

/** Rejection of out-of-gallery queries and kept correct top-1 answers, each judged by its own policy. */
function measure(
  samples: ReadonlyArray<{ candidates: readonly Candidate[]; truth: string | null; policy: MatchPolicy }>,
): OpenSetFigures['heldOut'] {
  const outside = samples.filter((s) => s.truth === null);
  const correct = samples.filter((s) => s.truth !== null && s.candidates[0]?.sku === s.truth);
  return {
    outside: outside.length,
    rejected: share(outside, (s) => decide(s.candidates, s.policy).decision === 'no-match'),
    correctTop1: correct.length,
    kept: share(correct, (s) => decide(s.candidates, s.policy).decision === 'matched'),
  };
}

/** Retrieval by plain cosine on the raw vectors (no whitening): the baseline the steps are measured against. */
export function cosineRetrieval(
  gallery: readonly IndexedProduct[],
  queries: readonly LabelledQuery[],
): RetrievalFigures {
  const rows = gallery.flatMap((p) => p.views.map((v) => ({ sku: p.sku, vector: unit(v.vector) })));
  let top1 = 0;
  let top5 = 0;
  for (const q of queries) {
    const query = unit(q.vector);
    const best = new Map<string, number>();
    for (const row of rows) {
      let s = 0;
      for (let i = 0; i < query.length; i++) s += query[i]! * row.vector[i]!;
      if (!(best.get(row.sku)! >= s)) best.set(row.sku, s);
    }
    const ranked = [...best].sort((a, b) => b[1] - a[1]).slice(0, 5);
    const rank = ranked.findIndex(([sku]) => sku === q.sku);
    if (rank === 0) top1++;
    if (rank >= 0) top5++;
  }
  return { queries: queries.length, top1: top1 / queries.length, top5: top5 / queries.length };
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
}
