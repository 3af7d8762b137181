/**
 * Retrieval and open-set evaluation of descriptors on a labelled catalogue (pure: vectors in,
 * figures out). Used by the quality test, the docs table and `match` tuning.
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

export function retrieval(gallery: readonly IndexedProduct[], queries: readonly LabelledQuery[], options?: Partial<IndexOptions>): RetrievalFigures {
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
  calibration: CalibrationResult;
  /** Measured on the held-out half with the policy learned on the other half. */
  heldOut: { outside: number; rejected: number; correctTop1: number; kept: number };
}

/**
 * A third of the SKUs (chosen by hash) leave the gallery; their queries should be rejected. Queries
 * are split in two halves by SKU hash: the threshold and margin are learned on one half (keeping at
 * least `minKept` of its correct top-1 answers) and measured on the other, so the figures are not
 * tuned on the photos they report.
 */
export function openSet(
  gallery: readonly IndexedProduct[],
  queries: readonly LabelledQuery[],
  minKept: number,
  fold: 0 | 1 = 0,
  options?: Partial<IndexOptions>,
): OpenSetFigures {
  const removed = new Set(gallery.filter((p) => stableFraction(p.sku, 'removed') < 1 / 3).map((p) => p.sku));
  const index = CatalogueIndex.build(
    gallery.filter((p) => !removed.has(p.sku)),
    options,
  );
  const samples = queries.map((q) => ({
    candidates: index.search(q.vector, 5),
    truth: removed.has(q.sku) ? null : q.sku,
    half: stableFraction(q.sku, 'half') < 0.5 ? 0 : 1,
  }));
  const calibration = calibrate(
    samples.filter((s) => s.half === fold),
    minKept,
  );
  const test = samples.filter((s) => s.half !== fold);
  return { removedSkus: removed.size, calibration, heldOut: measure(test, calibration) };
}

export function measure(
  samples: ReadonlyArray<{ candidates: readonly Candidate[]; truth: string | null }>,
  policy: MatchPolicy,
): OpenSetFigures['heldOut'] {
  const outside = samples.filter((s) => s.truth === null);
  const correct = samples.filter((s) => s.truth !== null && s.candidates[0]?.sku === s.truth);
  return {
    outside: outside.length,
    rejected: share(outside, (s) => decide(s.candidates, policy).decision === 'no-match'),
    correctTop1: correct.length,
    kept: share(correct, (s) => decide(s.candidates, policy).decision === 'matched'),
  };
}
