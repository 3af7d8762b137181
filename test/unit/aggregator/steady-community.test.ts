/**
 * A busy community where nothing changes: forty products, six countries each with its own day,
 * uploads and the likes they draw. Every alert here is false. A post and its likes arrive
 * together, so the evidence counts each author's contribution as one unit (scoring.ts
 * `evidenceOf`); counted signal by signal, a few posts with their usual likes passed for a surge.
 */
import { describe, expect, it } from 'vitest';
import { addToTally, emptyTally, evidenceOf } from '../../../services/aggregator/scoring.ts';
import { TrendPartition } from '../../../services/aggregator/trends.ts';
import type { Signal } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, rng, settings, signal, T0, tables } from './fixtures.ts';

const COUNTRIES: Array<[string, number]> = [
  ['GB', 0],
  ['FR', 1],
  ['DE', 1],
  ['US', -5],
  ['JP', 9],
  ['BR', -3],
];
const DAYS = 3;

/** Activity by local hour: quiet at night, a lunch and an evening peak. */
function localRhythm(utcMs: number, offsetHours: number): number {
  const hour = (new Date(utcMs).getUTCHours() + offsetHours + 24) % 24;
  if (hour < 7) return 0.1;
  if (hour < 12) return 0.7;
  if (hour < 14) return 1.3;
  if (hour < 18) return 0.8;
  if (hour < 23) return 1.5;
  return 0.4;
}

function steadyCommunity(seed: number): Signal[] {
  const random = rng(seed);
  const out: Signal[] = [];
  const skus = Array.from({ length: 40 }, (_, i) => `P${i}`);
  // Zipf popularity: a few products get most of the posts.
  const weights = skus.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let post = 0;
  for (let t = T0; t < T0 + DAYS * 24 * HOUR; ) {
    t += (-Math.log(1 - random()) / 60) * HOUR; // candidates at 60/h, thinned by the rhythm
    const [country, offset] = COUNTRIES[Math.floor(random() * COUNTRIES.length)]!;
    if (random() * 1.5 > localRhythm(t, offset)) continue;
    let pick = random() * total;
    let i = 0;
    while (pick > weights[i]!) pick -= weights[i++]!;
    const sku = skus[Math.min(i, skus.length - 1)]!;
    const postId = `post-${post++}`;
    const author = `${country}-m${Math.floor(random() * 3000)}`;
    out.push(signal(sku, Math.floor(t), { postId, memberId: author, country }));
    for (let k = Math.floor(random() * 9); k > 0; k--) {
      const at = Math.floor(t + (-Math.log(1 - random()) * 40 + 1) * MIN);
      const kind = random() < 0.8 ? 'like' : random() < 0.5 ? 'save' : 'comment';
      out.push(signal(sku, at, { kind, postId, postMemberId: author, country }));
    }
  }
  return out.sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
}

describe('a steady community', () => {
  it('raises no alert, or almost none, where nothing changes', () => {
    let alerts = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const partition = new TrendPartition(settings(), tables());
      for (const s of steadyCommunity(seed)) {
        partition.add(s);
        alerts += partition.drain().alerts.filter((a) => a.status === 'new').length;
      }
    }
    expect(alerts).toBeLessThanOrEqual(1);
  });

  it("counts an author's post and the likes it drew as one unit of evidence", () => {
    const s = settings();
    const tally = emptyTally();
    for (let p = 0; p < 3; p++) {
      addToTally(tally, signal('A', T0, { postId: `p${p}`, memberId: `a${p}` }), s.weights.upload, true);
      for (let k = 0; k < 4; k++)
        addToTally(
          tally,
          signal('A', T0 + MIN, { kind: 'like', postId: `p${p}`, postMemberId: `a${p}` }),
          s.weights.like,
          true,
        );
    }
    const evidence = evidenceOf(tally, s);
    // Three authors of 5 + 4: Σ 9² / 27 = 3 units of 9, not (3·5² + 3·4²) / 27 ≈ 4.6.
    expect(evidence.weighted).toBe(27);
    expect(evidence.varianceScale).toBe(9);
  });
});
