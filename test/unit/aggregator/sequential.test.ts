import { describe, expect, it } from 'vitest';
import { cusumPasses, cusumQuiet, cusumStep, rhythmOf } from '../../../services/aggregator/sequential.ts';
import { createRng, poisson } from '../../../services/simulator/scenario.ts';

const settings = { growth: 3, threshold: 13 };

/** Advances until the statistic passes, or null within `limit`. */
function advancesToAlarm(rate: (advance: number) => number, expected: number, seed: number, limit = 5_000) {
  const rng = createRng(seed);
  let statistic = 0;
  for (let advance = 0; advance < limit; advance++) {
    statistic = cusumStep(statistic, poisson(rng, rate(advance)), expected, settings);
    if (cusumPasses(statistic, settings)) return advance;
  }
  return null;
}

describe('sequential sub-test (CUSUM on new posters per advance)', () => {
  it('adds ln(growth) per observed poster and takes (growth − 1)·expected per advance, never below 0', () => {
    expect(cusumStep(0, 2, 0.5, settings)).toBeCloseTo(2 * Math.log(3) - 1, 12);
    expect(cusumStep(0.4, 0, 0.5, settings)).toBe(0);
    expect(cusumQuiet(5, 3, 0.5, settings)).toBeCloseTo(2, 12);
    expect(cusumQuiet(1, 10, 0.5, settings)).toBe(0);
    expect(cusumPasses(12.99, settings)).toBe(false);
    expect(cusumPasses(13, settings)).toBe(true);
  });

  it('stays quiet on a usual rate for weeks of advances', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      // 0.5 posters per 5-minute advance (6 an hour) for 20 days.
      expect(advancesToAlarm(() => 0.5, 0.5, seed, 5_760)).toBeNull();
    }
  });

  it('raises a tripled rate within a few hours of the change, faster when the product is busier', () => {
    const quiet = [1, 2, 3, 4, 5].map((seed) => advancesToAlarm(() => 1.5, 0.5, seed)!);
    const busy = [1, 2, 3, 4, 5].map((seed) => advancesToAlarm(() => 6, 2, seed)!);
    for (const advances of quiet) expect(advances).toBeLessThan(36);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(busy)).toBeLessThan(mean(quiet) / 2);
  });

  it('measures the rhythm of a scope by everybody else, bounded to [0.5, 3]', () => {
    expect(rhythmOf(150, 100)).toBe(1.5);
    expect(rhythmOf(0, 100)).toBe(0.5);
    expect(rhythmOf(10_000, 100)).toBe(3);
    expect(rhythmOf(2, 0)).toBe(2);
  });
});
