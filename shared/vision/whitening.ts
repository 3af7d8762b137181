/**
 * PCA whitening learned on the catalogue itself (no labels needed): centre on the catalogue mean,
 * project on the leading principal axes, and divide each axis by a power of its standard deviation.
 * Centring removes what every product shares (backdrop, "is clothing"), so unrelated products score
 * near 0; dividing by the spread (power 0.5 ≈ half-whitening, shrunk towards the mean variance so the
 * tiny trailing components are not blown up) lets rarer, discriminative directions count.
 */
import { l2Normalize, symmetricEigen } from './linalg.ts';

export interface WhiteningOptions {
  /** Output dimension (leading principal axes kept). */
  dimension: number;
  /** 0 = plain PCA rotation, 1 = full whitening. */
  power: number;
  /** Added to every variance before the power, as a share of the mean variance of the kept axes. */
  shrinkage: number;
  /** Fit on at most this many vectors (a deterministic stride sample of larger catalogues). */
  maxSamples: number;
}

export const DEFAULT_WHITENING: WhiteningOptions = {
  dimension: 128,
  power: 0.4,
  shrinkage: 0.1,
  maxSamples: 6000,
};

export interface Whitening {
  inputDimension: number;
  dimension: number;
  mean: Float32Array;
  /** `dimension` rows of `inputDimension`, already divided by the axis scale. */
  projection: Float32Array;
}

export function fitWhitening(
  vectors: readonly Float32Array[],
  options: WhiteningOptions = DEFAULT_WHITENING,
): Whitening {
  if (vectors.length < 2) throw new Error('whitening needs at least two vectors');
  const d = vectors[0]!.length;
  const stride = Math.max(1, Math.ceil(vectors.length / options.maxSamples));
  const sample = vectors.filter((_, i) => i % stride === 0);
  const mean = new Float64Array(d);
  for (const v of sample) for (let i = 0; i < d; i++) mean[i]! += v[i]!;
  for (let i = 0; i < d; i++) mean[i]! /= sample.length;
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (const v of sample) {
    for (let i = 0; i < d; i++) centred[i] = v[i]! - mean[i]!;
    for (let i = 0; i < d; i++) {
      const ci = centred[i]!;
      if (ci === 0) continue;
      const row = i * d;
      for (let j = i; j < d; j++) cov[row + j]! += ci * centred[j]!;
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const value = cov[i * d + j]! / (sample.length - 1);
      cov[i * d + j] = value;
      cov[j * d + i] = value;
    }
  }
  const { values, vectors: axes } = symmetricEigen(cov, d);
  const k = Math.min(options.dimension, d, sample.length - 1);
  let meanVariance = 0;
  for (let r = 0; r < k; r++) meanVariance += Math.max(0, values[r]!);
  meanVariance /= k;
  const projection = new Float32Array(k * d);
  for (let r = 0; r < k; r++) {
    const scale = (Math.max(0, values[r]!) + options.shrinkage * meanVariance) ** (options.power / 2);
    for (let c = 0; c < d; c++) projection[r * d + c] = axes[r * d + c]! / scale;
  }
  return { inputDimension: d, dimension: k, mean: Float32Array.from(mean), projection };
}

/** Centre, project, scale and L2-normalise one vector. */
export function applyWhitening(w: Whitening, v: Float32Array): Float32Array {
  const { inputDimension: d, dimension: k, mean, projection } = w;
  if (v.length !== d) throw new Error(`vector has ${v.length} values, the whitening expects ${d}`);
  const centred = new Float32Array(d);
  for (let i = 0; i < d; i++) centred[i] = v[i]! - mean[i]!;
  const out = new Float32Array(k);
  for (let r = 0; r < k; r++) {
    let s = 0;
    const row = r * d;
    for (let i = 0; i < d; i++) s += projection[row + i]! * centred[i]!;
    out[r] = s;
  }
  return l2Normalize(out);
}
