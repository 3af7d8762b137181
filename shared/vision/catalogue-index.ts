/**
 * The catalogue in memory, searchable by photo descriptor. Built from raw view descriptors: the
 * whitening is learned on them at build time, every view becomes one row of a contiguous matrix,
 * and a SKU's score is its best view's cosine. Small catalogues are scanned exactly; large ones go
 * through an inverted-file (IVF) index: k-means cells over the leading whitened components (the
 * PCA axes with most variance, so a short prefix is a good coarse vector), and a query scans only
 * the rows of the `probes` cells nearest to it. Plain TypeScript: no native ANN library to install.
 */
import { dot, l2Normalize } from './linalg.ts';
import {
  applyWhitening,
  DEFAULT_WHITENING,
  fitWhitening,
  type Whitening,
  type WhiteningOptions,
} from './whitening.ts';

export interface IndexedProduct {
  sku: string;
  style: string | null;
  views: ReadonlyArray<{ view: string; vector: Float32Array }>;
}

export interface Candidate {
  sku: string;
  score: number;
}

export interface IvfOptions {
  /** Use IVF when the index has at least this many rows (views). */
  minRows: number;
  /** Number of cells; 0 = about 2·√rows. */
  cells: number;
  /** Cells scanned per query. */
  probes: number;
  /** Leading whitened components used for the cells. */
  coarseDimension: number;
  /** k-means is trained on at most this many rows. */
  trainingRows: number;
  iterations: number;
}

export const DEFAULT_IVF: IvfOptions = {
  minRows: 20_000,
  cells: 0,
  probes: 80,
  coarseDimension: 32,
  trainingRows: 25_000,
  iterations: 8,
};

export interface IndexOptions {
  whitening: WhiteningOptions;
  ivf: IvfOptions;
}

export interface Ivf {
  centroids: Float32Array;
  cells: number;
  /** Rows are stored grouped by cell: rows [cellStart[c], cellStart[c+1]) belong to cell c. */
  cellStart: Int32Array;
  /** The leading components of every row, contiguous: stage 1 reads only these (cache-friendly). */
  prefixes: Float32Array;
}

/** Everything an index is made of, as plain data: what a build worker sends back (index-builder.ts). */
export interface IndexParts {
  whitening: Whitening | null;
  rows: Float32Array;
  rowSku: Int32Array;
  skus: string[];
  ivf: Ivf | null;
  probes: number;
  coarseDimension: number;
}

export class CatalogueIndex {
  private readonly dimension: number;

  private constructor(
    private readonly whitening: Whitening | null,
    private readonly rows: Float32Array,
    private readonly rowSku: Int32Array,
    private readonly skus: string[],
    private readonly ivf: Ivf | null,
    private readonly probes: number,
    private readonly coarseDimension: number,
  ) {
    this.dimension = whitening?.dimension ?? 0;
  }

  static empty(): CatalogueIndex {
    return new CatalogueIndex(null, new Float32Array(0), new Int32Array(0), [], null, 0, 0);
  }

  static build(products: readonly IndexedProduct[], options: Partial<IndexOptions> = {}): CatalogueIndex {
    const whiteningOptions = options.whitening ?? DEFAULT_WHITENING;
    const ivfOptions = options.ivf ?? DEFAULT_IVF;
    const raw: Float32Array[] = [];
    const owners: number[] = [];
    const skus: string[] = [];
    for (const product of products) {
      if (product.views.length === 0) continue;
      const id = skus.push(product.sku) - 1;
      for (const view of product.views) {
        raw.push(view.vector);
        owners.push(id);
      }
    }
    if (raw.length < 2) return CatalogueIndex.empty();
    const whitening = fitWhitening(raw, whiteningOptions);
    const d = whitening.dimension;
    const whitened = raw.map((v) => applyWhitening(whitening, v));
    const coarse = Math.min(ivfOptions.coarseDimension, d);
    let order = whitened.map((_, i) => i);
    let ivf: Ivf | null = null;
    if (whitened.length >= ivfOptions.minRows) {
      const cells = ivfOptions.cells || Math.round(2 * Math.sqrt(whitened.length));
      const coarseVectors = whitened.map((v) => l2Normalize(v.slice(0, coarse)));
      const centroids = kMeans(coarseVectors, cells, ivfOptions.trainingRows, ivfOptions.iterations);
      const assignment = coarseVectors.map((v) => nearestCentroid(v, centroids, cells));
      order = order.sort((a, b) => assignment[a]! - assignment[b]! || a - b);
      const cellStart = new Int32Array(cells + 1);
      for (const cell of assignment) cellStart[cell + 1]!++;
      for (let c = 0; c < cells; c++) cellStart[c + 1]! += cellStart[c]!;
      ivf = { centroids, cells, cellStart, prefixes: new Float32Array(0) };
    }
    const rows = new Float32Array(whitened.length * d);
    const rowSku = new Int32Array(whitened.length);
    order.forEach((source, row) => {
      rows.set(whitened[source]!, row * d);
      rowSku[row] = owners[source]!;
    });
    if (ivf) {
      const prefixes = new Float32Array(whitened.length * coarse);
      order.forEach((source, row) => {
        prefixes.set(whitened[source]!.subarray(0, coarse), row * coarse);
      });
      ivf.prefixes = prefixes;
    }
    return new CatalogueIndex(whitening, rows, rowSku, skus, ivf, ivfOptions.probes, coarse);
  }

  static fromParts(parts: IndexParts): CatalogueIndex {
    return new CatalogueIndex(
      parts.whitening,
      parts.rows,
      parts.rowSku,
      parts.skus,
      parts.ivf,
      parts.probes,
      parts.coarseDimension,
    );
  }

  toParts(): IndexParts {
    return {
      whitening: this.whitening,
      rows: this.rows,
      rowSku: this.rowSku,
      skus: this.skus,
      ivf: this.ivf,
      probes: this.probes,
      coarseDimension: this.coarseDimension,
    };
  }

  /** The same index searched with another number of probed cells (tuning, benchmarks). */
  withProbes(probes: number): CatalogueIndex {
    return new CatalogueIndex(
      this.whitening,
      this.rows,
      this.rowSku,
      this.skus,
      this.ivf,
      probes,
      this.coarseDimension,
    );
  }

  get productCount(): number {
    return this.skus.length;
  }

  get rowCount(): number {
    return this.rowSku.length;
  }

  get usesIvf(): boolean {
    return this.ivf !== null;
  }

  /** The query in the index's space (whitened, unit length). */
  project(raw: Float32Array): Float32Array | null {
    return this.whitening ? applyWhitening(this.whitening, raw) : null;
  }

  /** Best `k` SKUs for a raw descriptor, best first; approximate when the index uses IVF. */
  search(raw: Float32Array, k: number, exact = false): Candidate[] {
    const query = this.project(raw);
    if (!query) return [];
    const d = this.dimension;
    const best = new Map<number, number>();
    const consider = (row: number, score: number) => {
      const sku = this.rowSku[row]!;
      const previous = best.get(sku);
      if (previous === undefined || score > previous) best.set(sku, score);
    };
    if (this.ivf && !exact) {
      // Stage 1: the probed cells' rows ranked by the leading components only (most of the variance,
      // a quarter of the work); stage 2: the best of them scored on all components.
      const { cellStart, centroids, cells, prefixes } = this.ivf;
      const p = this.coarseDimension;
      const probed = nearestCentroids(l2Normalize(query.slice(0, p)), centroids, cells, this.probes);
      let count = 0;
      for (const cell of probed) count += cellStart[cell + 1]! - cellStart[cell]!;
      const rows = new Int32Array(count);
      const scores = new Float32Array(count);
      let n = 0;
      for (const cell of probed) {
        for (let row = cellStart[cell]!; row < cellStart[cell + 1]!; row++) {
          rows[n] = row;
          scores[n++] = dot(query, prefixes, row * p, p);
        }
      }
      const shortlist = Math.min(count, Math.max(RERANK_PER_RESULT * k, MIN_RERANK));
      selectTop(rows, scores, shortlist);
      for (let i = 0; i < shortlist; i++) consider(rows[i]!, dot(query, this.rows, rows[i]! * d, d));
    } else {
      for (let row = 0; row < this.rowSku.length; row++) consider(row, dot(query, this.rows, row * d, d));
    }
    const ranked = [...best].sort((a, b) => b[1] - a[1]).slice(0, k);
    return ranked.map(([sku, score]) => ({ sku: this.skus[sku]!, score }));
  }
}

/** Rows re-scored on all components per requested result (views of one SKU share the shortlist). */
const RERANK_PER_RESULT = 40;
const MIN_RERANK = 200;

/** Moves the `n` highest `scores` (and their `ids`) to the front, in no particular order (quickselect). */
function selectTop(ids: Int32Array, scores: Float32Array, n: number): void {
  let lo = 0;
  let hi = scores.length - 1;
  const swap = (i: number, j: number) => {
    const s = scores[i]!;
    scores[i] = scores[j]!;
    scores[j] = s;
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  };
  while (lo < hi) {
    const pivot = scores[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scores[i]! > pivot) i++;
      while (scores[j]! < pivot) j--;
      if (i <= j) swap(i++, j--);
    }
    if (n - 1 <= j) hi = j;
    else if (n - 1 >= i) lo = i;
    else return;
  }
}

function topK(ids: number[], scores: Float32Array, k: number): number[] {
  const kept: number[] = [];
  for (const id of ids) {
    const s = scores[id]!;
    if (kept.length === k && s <= scores[kept[k - 1]!]!) continue;
    let i = kept.length < k ? kept.length : k - 1;
    if (kept.length < k) kept.push(id);
    while (i > 0 && scores[kept[i - 1]!]! < s) {
      kept[i] = kept[i - 1]!;
      i--;
    }
    kept[i] = id;
  }
  return kept;
}

function nearestCentroids(v: Float32Array, centroids: Float32Array, cells: number, n: number): number[] {
  const d = v.length;
  const scores = new Float32Array(cells);
  const ids: number[] = [];
  for (let c = 0; c < cells; c++) {
    scores[c] = dot(v, centroids, c * d, d);
    ids.push(c);
  }
  return topK(ids, scores, n);
}

function nearestCentroid(v: Float32Array, centroids: Float32Array, cells: number): number {
  const d = v.length;
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < cells; c++) {
    const score = dot(v, centroids, c * d, d);
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

/** Spherical k-means (cosine), seeded deterministically by a stride over the data. */
function kMeans(
  vectors: readonly Float32Array[],
  cells: number,
  maxTraining: number,
  iterations: number,
): Float32Array {
  const d = vectors[0]!.length;
  const stride = Math.max(1, Math.floor(vectors.length / maxTraining));
  const training = vectors.filter((_, i) => i % stride === 0);
  const k = Math.min(cells, training.length);
  const centroids = new Float32Array(cells * d);
  const seedStride = training.length / k;
  for (let c = 0; c < k; c++) centroids.set(training[Math.floor(c * seedStride)]!, c * d);
  for (let iteration = 0; iteration < iterations; iteration++) {
    const sums = new Float32Array(cells * d);
    const counts = new Int32Array(cells);
    for (const v of training) {
      const cell = nearestCentroid(v, centroids, cells);
      counts[cell]!++;
      for (let i = 0; i < d; i++) sums[cell * d + i]! += v[i]!;
    }
    for (let c = 0; c < cells; c++) {
      if (counts[c] === 0) continue; // keeps its previous centre
      const centre = sums.subarray(c * d, (c + 1) * d);
      l2Normalize(centre);
      centroids.set(centre, c * d);
    }
  }
  return centroids;
}
