/** Synthetic catalogues for the index tests and the matching benchmark (deterministic). */
import type { IndexedProduct } from '../../../shared/vision/catalogue-index.ts';

/** Deterministic pseudo-random numbers (mulberry32) and Gaussian noise. */
export function random(seed: number) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  return { uniform, gauss };
}

/**
 * Products with the structure of real descriptors: a low-dimensional latent space (styles, then
 * products around their style) embedded linearly in `dim` dimensions plus isotropic noise; each
 * product has 3 noisy views, and a query is a further noisy view.
 */
export function synthetic(products: number, dim: number, seed: number, latent = 12) {
  const rng = random(seed);
  const basis = Array.from({ length: latent }, () => Float32Array.from({ length: dim }, rng.gauss));
  const embed = (z: number[]) => {
    const v = new Float32Array(dim);
    z.forEach((c, k) => {
      for (let i = 0; i < dim; i++) v[i]! += c * basis[k]![i]!;
    });
    for (let i = 0; i < dim; i++) v[i]! += 0.3 * rng.gauss();
    return v;
  };
  const styles = Array.from({ length: Math.ceil(products / 5) }, () =>
    Array.from({ length: latent }, rng.gauss),
  );
  const centres: number[][] = [];
  const gallery: IndexedProduct[] = [];
  for (let p = 0; p < products; p++) {
    const centre = styles[p % styles.length]!.map((v) => v + 0.5 * rng.gauss());
    centres.push(centre);
    gallery.push({
      sku: `SKU-${p}`,
      style: `S${p % styles.length}`,
      views: [0, 1, 2].map((v) => ({
        view: `v${v}`,
        vector: embed(centre.map((x) => x + 0.2 * rng.gauss())),
      })),
    });
  }
  const query = (p: number) => embed(centres[p]!.map((x) => x + 0.25 * rng.gauss()));
  return { gallery, query };
}
