/**
 * The decision for one photo: a SKU is recognised only when its score clears an absolute
 * threshold AND leads the runner-up SKU by a margin. The threshold rejects photos of things far
 * from everything in the catalogue; the margin rejects photos that sit between several products
 * (typical of an item the catalogue does not carry: it resembles many, none clearly). Without both,
 * every photo would be forced onto its nearest SKU.
 */
import type { Candidate } from './catalogue-index.ts';

export interface MatchPolicy {
  threshold: number;
  margin: number;
}

export type Decision = { decision: 'matched'; sku: string; score: number } | { decision: 'no-match' };

export function decide(candidates: readonly Candidate[], policy: MatchPolicy): Decision {
  const [first, second] = candidates;
  if (!first) return { decision: 'no-match' };
  const lead = first.score - (second?.score ?? 0);
  if (first.score >= policy.threshold && lead >= policy.margin) {
    return { decision: 'matched', sku: first.sku, score: first.score };
  }
  return { decision: 'no-match' };
}

export interface CalibrationSample {
  candidates: readonly Candidate[];
  /** The SKU the photo shows, or null when it shows something not in the gallery. */
  truth: string | null;
}

export interface CalibrationResult extends MatchPolicy {
  /** Share of out-of-gallery photos rejected. */
  rejected: number;
  /** Share of correct top-1 answers that the policy keeps. */
  kept: number;
}

/**
 * Picks the policy that rejects the most out-of-gallery photos while keeping at least `minKept`
 * of the correct top-1 answers (ties: the one keeping more). A grid search: the two parameters are
 * few and the objective is a step function.
 */
export function calibrate(samples: readonly CalibrationSample[], minKept: number): CalibrationResult {
  const outside = samples.filter((s) => s.truth === null);
  const correct = samples.filter((s) => s.truth !== null && s.candidates[0]?.sku === s.truth);
  let best: CalibrationResult = { threshold: -1, margin: 0, rejected: 0, kept: 1 };
  for (let threshold = -0.2; threshold <= 1.0001; threshold += 0.01) {
    for (let margin = 0; margin <= 0.3001; margin += 0.005) {
      const policy = { threshold, margin };
      const kept = share(correct, (s) => decide(s.candidates, policy).decision === 'matched');
      if (kept < minKept) continue;
      const rejected = share(outside, (s) => decide(s.candidates, policy).decision === 'no-match');
      if (rejected > best.rejected || (rejected === best.rejected && kept > best.kept)) {
        best = { threshold: round(threshold), margin: round(margin), rejected, kept };
      }
    }
  }
  return best;
}

/** Fraction of `items` for which `test` holds (1 for an empty list: nothing to fail). */
export function share<T>(items: readonly T[], test: (item: T) => boolean): number {
  return items.length === 0 ? 1 : items.filter(test).length / items.length;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
