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
  probes: 24,
  coarseDimension: 32,
  trainingRows: 25_000,
  iterations: 8,
};

export interface IndexOptions {
  whitening: WhiteningOptions;
  ivf: IvfOptions;
}

interface Ivf {
  centroids: Float32Array;
  cells: number;
  /** Rows are stored grouped by cell: rows [cellStart[c], cellStart[c+1]) belong to cell c. */
  cellStart: Int32Array;
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
      const assignment = coarseVectors.map((v) => nearestCentroids(v, centroids, cells, 1)[0]!);
      order = order.sort((a, b) => assignment[a]! - assignment[b]! || a - b);
      const cellStart = new Int32Array(cells + 1);
      for (const cell of assignment) cellStart[cell + 1]!++;
      for (let c = 0; c < cells; c++) cellStart[c + 1]! += cellStart[c]!;
      ivf = { centroids, cells, cellStart };
    }
    const rows = new Float32Array(whitened.length * d);
    const rowSku = new Int32Array(whitened.length);
    order.forEach((source, row) => {
      rows.set(whitened[source]!, row * d);
      rowSku[row] = owners[source]!;
    });
    return new CatalogueIndex(whitening, rows, rowSku, skus, ivf, ivfOptions.probes, coarse);
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
    const best = new Float32Array(this.skus.length).fill(Number.NEGATIVE_INFINITY);
    const touched: number[] = [];
    const scan = (from: number, to: number) => {
      const d = this.dimension;
      for (let row = from; row < to; row++) {
        const score = dot(query, this.rows, row * d, d);
        const sku = this.rowSku[row]!;
        if (best[sku] === Number.NEGATIVE_INFINITY) touched.push(sku);
        if (score > best[sku]!) best[sku] = score;
      }
    };
    if (this.ivf && !exact) {
      const coarse = l2Normalize(query.slice(0, this.coarseDimension));
      for (const cell of nearestCentroids(coarse, this.ivf.centroids, this.ivf.cells, this.probes)) {
        scan(this.ivf.cellStart[cell]!, this.ivf.cellStart[cell + 1]!);
      }
    } else {
      scan(0, this.rowSku.length);
    }
    return topK(touched, best, k).map((sku) => ({ sku: this.skus[sku]!, score: best[sku]! }));
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
      const cell = nearestCentroids(v, centroids, cells, 1)[0]!;
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
