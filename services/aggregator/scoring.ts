/**
 * Scoring of one closed window, pure. The weighted count of a window is built so that what one
 * person does cannot pass for what many do:
 *   - a member's uploads of the SKU count once per window, however many photos they post;
 *   - the interactions on one post are capped per window (a like-bot on one photo adds at most the cap);
 *   - every contribution is attributed to the post's author ("source"), and a window needs enough
 *     distinct sources, none of them carrying more than a set share.
 * The count is then tested against the SKU's own baseline with a negative-binomial tail after a
 * quasi-Poisson scaling (weighted counts are lumpier than unit counts).
 */
import type { SignalKind } from '../../shared/contracts/events.ts';
import type { TrendSettings } from './config.ts';
import { binomialUpperTail, negativeBinomialUpperTail } from './statistics.ts';

/** What one pane (advance-sized slice of event time) or a merge of panes knows. */
export interface PostTally {
  /** Author of the post (the member who uploaded it). */
  author: string;
  /** Sum of the interaction weights on the post. */
  interactionWeight: number;
  uploaded: boolean;
  imageUrl?: string;
  matchScore?: number;
}

export interface Tally {
  signals: number;
  /** Sum of the kind weights, undamped, and of their squares. */
  raw: number;
  squares: number;
  byKind: Record<string, number>;
  members: Set<string>;
  uploaders: Set<string>;
  posts: Map<string, PostTally>;
  countries: Map<string, number>;
}

export function emptyTally(): Tally {
  return {
    signals: 0,
    raw: 0,
    squares: 0,
    byKind: {},
    members: new Set(),
    uploaders: new Set(),
    posts: new Map(),
    countries: new Map(),
  };
}

export interface SignalFacts {
  kind: SignalKind;
  postId: string;
  memberId: string;
  postMemberId?: string | undefined;
  country: string;
  imageUrl?: string | undefined;
  matchScore?: number | undefined;
}

/**
 * `withCountry` and `withPhotos` only for the tallies that feed alerts (global hopping panes):
 * the others would carry kilobytes of URLs per post into the changelog for nothing.
 */
export function addToTally(
  tally: Tally,
  signal: SignalFacts,
  weight: number,
  withCountry: boolean,
  withPhotos = withCountry,
): void {
  tally.signals++;
  tally.raw += weight;
  tally.squares += weight * weight;
  tally.byKind[signal.kind] = (tally.byKind[signal.kind] ?? 0) + 1;
  tally.members.add(signal.memberId);
  if (withCountry) tally.countries.set(signal.country, (tally.countries.get(signal.country) ?? 0) + 1);
  let post = tally.posts.get(signal.postId);
  if (!post) {
    post = {
      author: signal.postMemberId ?? (signal.kind === 'upload' ? signal.memberId : `post:${signal.postId}`),
      interactionWeight: 0,
      uploaded: false,
    };
    tally.posts.set(signal.postId, post);
  }
  if (signal.kind === 'upload') {
    tally.uploaders.add(signal.memberId);
    post.uploaded = true;
    post.author = signal.memberId;
  } else {
    post.interactionWeight += weight;
  }
  if (withPhotos) keepStrongestPhoto(post, signal.imageUrl, signal.matchScore);
}

/** A post shows the photo that matched the SKU best (the later one on a tie). */
export function keepStrongestPhoto(
  post: { imageUrl?: string; matchScore?: number },
  imageUrl: string | undefined,
  matchScore: number | undefined,
): void {
  if (imageUrl === undefined || (post.matchScore ?? -Infinity) > (matchScore ?? -Infinity)) return;
  post.imageUrl = imageUrl;
  if (matchScore !== undefined) post.matchScore = matchScore;
}

/** The union of panes. The result may BE the only input: treat it as read-only. */
export function mergeTallies(tallies: readonly Tally[], withCountries: boolean): Tally {
  if (tallies.length === 1) return tallies[0]!;
  const merged = emptyTally();
  for (const t of tallies) {
    merged.signals += t.signals;
    merged.raw += t.raw;
    merged.squares += t.squares;
    for (const kind in t.byKind) merged.byKind[kind] = (merged.byKind[kind] ?? 0) + t.byKind[kind]!;
    for (const m of t.members) merged.members.add(m);
    for (const u of t.uploaders) merged.uploaders.add(u);
    if (withCountries)
      for (const [c, n] of t.countries) merged.countries.set(c, (merged.countries.get(c) ?? 0) + n);
    for (const [postId, p] of t.posts) {
      const into = merged.posts.get(postId);
      if (!into) {
        merged.posts.set(postId, { ...p });
        continue;
      }
      into.interactionWeight += p.interactionWeight;
      if (p.uploaded) {
        into.uploaded = true;
        into.author = p.author;
      }
      keepStrongestPhoto(into, p.imageUrl, p.matchScore);
    }
  }
  return merged;
}

export interface Evidence {
  /** The damped weighted count the test is run on. */
  weighted: number;
  /** Σ (an author's contribution)² / Σ contribution: the variance scale of a weighted count. */
  varianceScale: number;
  distinctSources: number;
  topSourceShare: number;
}

/** The damped weighted count of a tally and how concentrated it is on a few sources. */
export function evidenceOf(tally: Tally, settings: TrendSettings): Evidence {
  const uploadWeight = settings.weights.upload;
  const cap = settings.postInteractionCap;
  const bySource = new Map<string, number>();
  let weighted = 0;
  for (const uploader of tally.uploaders) {
    weighted += uploadWeight;
    bySource.set(uploader, (bySource.get(uploader) ?? 0) + uploadWeight);
  }
  for (const post of tally.posts.values()) {
    const amount = Math.min(post.interactionWeight, cap);
    if (amount <= 0) continue;
    weighted += amount;
    bySource.set(post.author, (bySource.get(post.author) ?? 0) + amount);
  }
  let top = 0;
  // Each author's posts and the interactions they drew arrive together: one unit of evidence, not
  // one per signal (counted apart, a few posts and their usual likes passed for a surge).
  let squares = 0;
  for (const v of bySource.values()) {
    if (v > top) top = v;
    squares += v * v;
  }
  return {
    weighted,
    varianceScale: weighted > 0 ? Math.max(1, squares / weighted) : 1,
    distinctSources: bySource.size,
    topSourceShare: weighted > 0 ? top / weighted : 0,
  };
}

export interface TestResult {
  pValue: number;
  uplift: number;
}

/** Upper-tail test of a weighted count against its expectation. */
export function surpriseOf(
  weighted: number,
  expected: number,
  varianceScale: number,
  dispersion: number,
): TestResult {
  const pValue = negativeBinomialUpperTail(weighted / varianceScale, expected / varianceScale, dispersion);
  return { pValue: Math.min(1, Math.max(0, pValue)), uplift: expected > 0 ? weighted / expected : 0 };
}

/** Everybody else's activity in the same scope and window (undamped weights). */
export interface Activity {
  weighted: number;
  /** Σ weight² / Σ weight of those signals. */
  varianceScale: number;
}

/**
 * Did the SKU's share of activity rise above `baselineShare` (its count over everybody else's)?
 * Both counts are put in units (weighted / variance scale) and shrunk by the over-dispersion
 * factor 1 + dispersion·expected; then, conditional on their sum, the SKU's count is binomial.
 */
export function shareSurpriseOf(
  evidence: Pick<Evidence, 'weighted' | 'varianceScale'>,
  others: Activity,
  baselineShare: number,
  dispersion: number,
): TestResult {
  const expectedWeighted = baselineShare * others.weighted;
  const uplift = expectedWeighted > 0 ? evidence.weighted / expectedWeighted : 0;
  const expectedUnits = expectedWeighted / evidence.varianceScale;
  const otherUnits = others.weighted / others.varianceScale;
  const inflation = 1 + dispersion * expectedUnits;
  const k = evidence.weighted / evidence.varianceScale / inflation;
  const n = k + otherUnits / inflation;
  const p = expectedUnits / (expectedUnits + otherUnits);
  return { pValue: Math.min(1, Math.max(0, binomialUpperTail(k, n, p))), uplift };
}

/** Enough independent people, none dominating: the gate every rising decision goes through. */
export function isBroadEnough(evidence: Evidence, distinctMembers: number, settings: TrendSettings): boolean {
  return (
    evidence.distinctSources >= settings.minDistinctMembers &&
    distinctMembers >= settings.minDistinctMembers &&
    evidence.topSourceShare <= settings.maxSourceShare
  );
}

/** −log10 p, bounded so a p of 0 in floating point stays finite. */
export function scoreOf(pValue: number): number {
  return Math.min(300, -Math.log10(Math.max(pValue, 1e-300)));
}

/** Baseline of a SKU and scope: an EWMA that starts from a prior worth `weight` windows. */
export interface Baseline {
  mean: number;
  weight: number;
}

export function startBaseline(prior: number, settings: Pick<TrendSettings, 'priorWeightWindows'>): Baseline {
  return { mean: prior, weight: settings.priorWeightWindows };
}

/** Folds one window's count in: a running mean while young, an EWMA with the half-life after. */
export function updateBaseline(baseline: Baseline, value: number, alpha: number): void {
  const rate = Math.max(alpha, 1 / (baseline.weight + 1));
  baseline.mean += rate * (value - baseline.mean);
  baseline.weight += 1;
}

/** `k` windows with nothing in them. */
export function decayBaseline(baseline: Baseline, windows: number, alpha: number): void {
  for (let i = 0; i < windows && baseline.mean > 1e-9; i++) updateBaseline(baseline, 0, alpha);
  if (windows > 0 && baseline.mean <= 1e-9) baseline.weight += windows;
}
