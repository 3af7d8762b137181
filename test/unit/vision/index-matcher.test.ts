import { describe, expect, it } from 'vitest';
import { CatalogueIndex } from '../../../shared/vision/catalogue-index.ts';
import { symmetricEigen } from '../../../shared/vision/linalg.ts';
import { calibrate, decide } from '../../../shared/vision/matcher.ts';
import { applyWhitening, fitWhitening } from '../../../shared/vision/whitening.ts';
import { random, synthetic } from './synthetic-catalogue.ts';

describe('symmetric eigen-decomposition', () => {
  it('satisfies A·v = λ·v with eigenvalues sorted descending', () => {
    const n = 6;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = Math.sin(3 * i + 7 * j);
    const { values, vectors } = symmetricEigen(a, n);
    for (let r = 0; r < n; r++) {
      if (r > 0) expect(values[r]!).toBeLessThanOrEqual(values[r - 1]!);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[i * n + k]! * vectors[r * n + k]!;
        expect(av).toBeCloseTo(values[r]! * vectors[r * n + i]!, 10);
      }
    }
  });
});

describe('whitening', () => {
  it('decorrelates the catalogue: whitened training vectors have near-equal variance on every kept axis', () => {
    const rng = random(7);
    const vectors = Array.from({ length: 400 }, () => {
      const z = [rng.gauss() * 5, rng.gauss(), rng.gauss() * 0.2];
      return Float32Array.from([z[0]! + z[1]!, z[0]! - z[1]!, z[2]!, 3]);
    });
    const w = fitWhitening(vectors, { dimension: 3, power: 1, shrinkage: 0, maxSamples: 10_000 });
    expect(w.dimension).toBe(3);
    const projected = vectors.map((v) => {
      const c = v.map((x, i) => x - w.mean[i]!);
      return [0, 1, 2].map((r) => c.reduce((s, x, i) => s + x * w.projection[r * 4 + i]!, 0));
    });
    for (let r = 0; r < 3; r++) {
      const variance = projected.reduce((s, p) => s + p[r]! ** 2, 0) / (projected.length - 1);
      expect(variance).toBeCloseTo(1, 1);
    }
    expect(Math.hypot(...applyWhitening(w, vectors[0]!))).toBeCloseTo(1, 5);
  });
});

describe('catalogue index', () => {
  it('finds the right SKU and returns each SKU once, best first', () => {
    const { gallery, query } = synthetic(200, 48, 1);
    const index = CatalogueIndex.build(gallery, {
      whitening: { dimension: 32, power: 0.5, shrinkage: 0.1, maxSamples: 5000 },
    });
    expect(index.usesIvf).toBe(false);
    let correct = 0;
    for (let p = 0; p < 200; p++) {
      const top = index.search(query(p), 5);
      expect(new Set(top.map((c) => c.sku)).size).toBe(top.length);
      for (let i = 1; i < top.length; i++) expect(top[i]!.score).toBeLessThanOrEqual(top[i - 1]!.score);
      if (top[0]!.sku === `SKU-${p}`) correct++;
    }
    expect(correct / 200).toBeGreaterThan(0.9);
  });

  it('IVF search keeps recall@5 ≥ 0.98 of the exact search while scanning a fraction of the rows', () => {
    const { gallery, query } = synthetic(3000, 48, 2);
    const index = CatalogueIndex.build(gallery, {
      whitening: { dimension: 32, power: 0.5, shrinkage: 0.1, maxSamples: 5000 },
      ivf: { minRows: 1000, cells: 60, probes: 12, coarseDimension: 16, trainingRows: 9000, iterations: 8 },
    });
    expect(index.usesIvf).toBe(true);
    let found = 0;
    let total = 0;
    for (let p = 0; p < 3000; p += 10) {
      const q = query(p);
      const exact = new Set(index.search(q, 5, true).map((c) => c.sku));
      const approx = index.search(q, 5).map((c) => c.sku);
      total += exact.size;
      found += approx.filter((s) => exact.has(s)).length;
    }
    expect(found / total).toBeGreaterThanOrEqual(0.98);
  });

  it('an empty or one-vector catalogue matches nothing', () => {
    expect(CatalogueIndex.empty().search(new Float32Array(4), 5)).toEqual([]);
    expect(CatalogueIndex.build([]).productCount).toBe(0);
  });
});

describe('match decision', () => {
  const policy = { threshold: 0.5, margin: 0.05 };

  it('matches only a candidate that clears the threshold and leads the runner-up by the margin', () => {
    expect(
      decide(
        [
          { sku: 'A', score: 0.7 },
          { sku: 'B', score: 0.6 },
        ],
        policy,
      ),
    ).toEqual({ decision: 'matched', sku: 'A', score: 0.7 });
    expect(
      decide(
        [
          { sku: 'A', score: 0.7 },
          { sku: 'B', score: 0.68 },
        ],
        policy,
      ).decision,
    ).toBe('no-match');
    expect(decide([{ sku: 'A', score: 0.45 }], policy).decision).toBe('no-match');
    expect(decide([], policy).decision).toBe('no-match');
  });

  it('calibration picks the policy that rejects most outsiders while keeping enough correct matches', () => {
    const samples = [
      ...[0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45].map((s, i) => ({
        candidates: [
          { sku: `K${i}`, score: s },
          { sku: 'X', score: s - 0.2 },
        ],
        truth: `K${i}`,
      })),
      ...[0.62, 0.5, 0.4, 0.3].map((s) => ({
        candidates: [
          { sku: 'Y', score: s },
          { sku: 'Z', score: s - 0.01 },
        ],
        truth: null,
      })),
    ];
    const result = calibrate(samples, 0.8);
    expect(result.kept).toBeGreaterThanOrEqual(0.8);
    // The margin alone separates them here: every outsider is rejected.
    expect(result.rejected).toBe(1);
    expect(result.margin).toBeGreaterThan(0.01);
  });
});
