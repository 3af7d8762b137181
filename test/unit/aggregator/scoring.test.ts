import { describe, expect, it } from 'vitest';
import { adviseReorder, isStrongTrend } from '../../../services/aggregator/reorder.ts';
import {
  addToTally,
  emptyTally,
  evidenceOf,
  isBroadEnough,
  surpriseOf,
} from '../../../services/aggregator/scoring.ts';
import { negativeBinomialUpperTail, poissonUpperTail } from '../../../services/aggregator/statistics.ts';
import { settings, signal, T0 } from './fixtures.ts';

describe('tail probabilities', () => {
  it('matches the Poisson tail computed by hand', () => {
    // P(X ≥ 5 | λ = 2) = 1 − e^−2 (1 + 2 + 2 + 4/3 + 2/3)
    expect(poissonUpperTail(5, 2)).toBeCloseTo(1 - Math.exp(-2) * 7, 10);
    expect(poissonUpperTail(1, 3)).toBeCloseTo(1 - Math.exp(-3), 10);
    expect(poissonUpperTail(0, 3)).toBe(1);
  });

  it('has a fatter tail with over-dispersion and tends to Poisson as it vanishes', () => {
    expect(negativeBinomialUpperTail(20, 8, 0.2)).toBeGreaterThan(poissonUpperTail(20, 8));
    expect(negativeBinomialUpperTail(20, 8, 1e-7)).toBeCloseTo(poissonUpperTail(20, 8), 5);
    // Sum of the pmf: P(X ≥ 1) = 1 − p^r for NB(r, p) with mean r(1−p)/p.
    const r = 1 / 0.25;
    const p = r / (r + 3);
    expect(negativeBinomialUpperTail(1, 3, 0.25)).toBeCloseTo(1 - p ** r, 10);
  });

  it('is honest for small counts: three against one is not news, thirty against ten is', () => {
    const smallCounts = surpriseOf(3, 1, 1, 0.05);
    expect(smallCounts.uplift).toBe(3);
    expect(smallCounts.pValue).toBeGreaterThan(0.05);
    const largeCounts = surpriseOf(30, 10, 1, 0.05);
    expect(largeCounts.uplift).toBe(3);
    expect(largeCounts.pValue).toBeLessThan(1e-4);
  });
});

describe('evidence of one window', () => {
  const s = settings();

  it("counts a member's repeated posts once", () => {
    const tally = emptyTally();
    for (let i = 0; i < 10; i++)
      addToTally(tally, signal('A', T0 + i, { memberId: 'eager' }), s.weights.upload, true);
    const evidence = evidenceOf(tally, s);
    expect(evidence.weighted).toBe(s.weights.upload);
    expect(evidence.distinctSources).toBe(1);
  });

  it('damps a burst of interactions on one post to the per-post cap', () => {
    const tally = emptyTally();
    addToTally(
      tally,
      signal('A', T0, { kind: 'upload', memberId: 'poster', postId: 'viral' }),
      s.weights.upload,
      true,
    );
    for (let i = 0; i < 500; i++) {
      addToTally(
        tally,
        signal('A', T0 + i, { kind: 'like', postId: 'viral', postMemberId: 'poster' }),
        s.weights.like,
        true,
      );
    }
    const evidence = evidenceOf(tally, s);
    expect(evidence.weighted).toBe(s.weights.upload + s.postInteractionCap);
    expect(tally.members.size).toBe(501);
    // 501 distinct members, but one source: not broad enough to be a trend.
    expect(isBroadEnough(evidence, tally.members.size, s)).toBe(false);
  });

  it('calls many members posting about a product broad', () => {
    const tally = emptyTally();
    for (let i = 0; i < 8; i++) addToTally(tally, signal('A', T0 + i), s.weights.upload, true);
    const evidence = evidenceOf(tally, s);
    expect(evidence.distinctSources).toBe(8);
    expect(evidence.topSourceShare).toBeCloseTo(1 / 8);
    expect(isBroadEnough(evidence, tally.members.size, s)).toBe(true);
  });
});

describe('reorder advice', () => {
  const advice = {
    demandElasticity: 0.5,
    serviceLevelZ: 1.65,
    trendHorizonDays: 14,
    minUplift: 2,
    alpha: 1e-4,
  };
  const stock = {
    sku: 'A',
    onHand: 40,
    onOrder: 10,
    leadTimeDays: 14,
    dailySales: 4,
    updatedAt: new Date(T0).toISOString(),
  };

  it('orders the uplifted lead-time demand plus safety stock minus stock on hand and on order', () => {
    const result = adviseReorder(stock, 3, true, advice);
    // demand/day = 4 × (1 + 0.5 × 2) = 8; over 14 days = 112; safety = 1.65 × √112 ≈ 17.46
    expect(result.suggestedReorderQty).toBe(Math.ceil(112 + 1.65 * Math.sqrt(112) - 40 - 10));
    expect(result.stock?.daysOfCover).toBe(5); // 40 / 8
    expect(result.priority).toBe('P1'); // runs out before a reorder could arrive, and a strong trend
  });

  it("expects the trend's uplift for its horizon only, and usual demand for the rest of the lead time", () => {
    const result = adviseReorder({ ...stock, leadTimeDays: 60 }, 3, true, advice);
    // 14 days at 8/day, then 46 days at the usual 4/day: 296, not 60 × 8 = 480.
    expect(result.suggestedReorderQty).toBe(Math.ceil(296 + 1.65 * Math.sqrt(296) - 40 - 10));
  });

  it('judges running out against the day it sizes a lead time under a day on', () => {
    // Half a day of cover, lead time half a day: the order is sized on a day, so it runs out.
    const result = adviseReorder({ ...stock, onHand: 4, onOrder: 0, leadTimeDays: 0.5 }, 3, true, advice);
    expect(result.stock?.daysOfCover).toBe(0.5);
    expect(result.priority).toBe('P1');
  });

  it('orders nothing when stock already covers the trend, and says so with a low priority', () => {
    const result = adviseReorder({ ...stock, onHand: 1000 }, 2.1, false, advice);
    expect(result.suggestedReorderQty).toBe(0);
    expect(result.priority).toBe('P3');
  });

  it('judges running out on the exact days of cover, not the rounded figure it shows', () => {
    // 249 / 25 = 9.96 days, shown as 10.0, still runs out before a 10-day reorder arrives.
    const result = adviseReorder(
      { ...stock, onHand: 249, onOrder: 0, dailySales: 25, leadTimeDays: 10 },
      1,
      true,
      advice,
    );
    expect(result.stock?.daysOfCover).toBe(10);
    expect(result.priority).toBe('P1');
  });

  it('raises without a quantity when the ERP has no stock record', () => {
    expect(adviseReorder(undefined, 5, true, advice)).toEqual({
      stock: null,
      suggestedReorderQty: null,
      priority: 'P2',
    });
  });

  it('calls a trend strong on its detecting uplift or on its score, past twice the gates', () => {
    expect(isStrongTrend(4, 0, advice)).toBe(true); // 2 × min uplift 2
    expect(isStrongTrend(3.9, 7.9, advice)).toBe(false);
    expect(isStrongTrend(1, 8, advice)).toBe(true); // 2 × −log10(1e-4)
  });

  it('does not suggest ordering 0 of a sold-out product: without sales to size it, the quantity is unknown', () => {
    // An ERP's recent sales fall to 0 when the shelf is empty.
    const result = adviseReorder({ ...stock, onHand: 0, onOrder: 0, dailySales: 0 }, 8, true, advice);
    expect(result.suggestedReorderQty).toBeNull();
    expect(result.stock?.daysOfCover).toBe(0);
    expect(result.priority).toBe('P1');
    // In stock but no sales: no quantity and no cover, priority from the trend alone.
    const unsold = adviseReorder({ ...stock, onHand: 50, dailySales: 0 }, 8, true, advice);
    expect(unsold).toMatchObject({ suggestedReorderQty: null, priority: 'P2' });
    expect(unsold.stock?.daysOfCover).toBeNull();
  });

  it('counts an empty shelf as run out even with a lead time of 0 days', () => {
    const result = adviseReorder({ ...stock, onHand: 0, onOrder: 0, leadTimeDays: 0 }, 3, true, advice);
    expect(result.priority).toBe('P1');
    // A day's demand at least: 8/day and its safety stock.
    expect(result.suggestedReorderQty).toBe(Math.ceil(8 + 1.65 * Math.sqrt(8)));
  });

  it('never gives P1 with nothing to order: stock on order that covers the trend makes it P2', () => {
    const result = adviseReorder({ ...stock, onHand: 10, onOrder: 1000 }, 3, true, advice);
    expect(result.suggestedReorderQty).toBe(0);
    expect(result.priority).toBe('P2');
  });

  it('orders for a backorder (negative on hand) and shows no cover', () => {
    const result = adviseReorder({ ...stock, onHand: -20, onOrder: 0 }, 1, false, advice);
    // 4/day × 14 days = 56, safety 1.65 × √56, plus the 20 units already owed.
    expect(result.suggestedReorderQty).toBe(Math.ceil(56 + 1.65 * Math.sqrt(56) + 20));
    expect(result.stock).toMatchObject({ onHand: -20, daysOfCover: 0 });
    expect(result.priority).toBe('P2');
  });
});
