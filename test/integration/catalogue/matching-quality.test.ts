/**
 * Matching quality on the luma catalogue (../shared/datasets/luma-catalogue): gallery = each SKU's
 * `main` view, queries = its other views. Runs the real model and the production descriptor, and
 * measures every step of the descriptor on the way (printed as the docs/matching.md table).
 * Needs no broker: it lives with the integration tests because it reads 709 real photos.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFeed } from '../../../services/catalogue/feed.ts';
import type { IndexedProduct } from '../../../shared/vision/catalogue-index.ts';
import { decodeImage } from '../../../shared/vision/decode.ts';
import type { ImageDescriber } from '../../../shared/vision/describer.ts';
import { combineDescriptor, prepareImage } from '../../../shared/vision/descriptor.ts';
import {
  cosineRetrieval,
  type LabelledQuery,
  openSet,
  retrieval,
} from '../../../shared/vision/evaluation.ts';
import { loadDescriber } from '../../../shared/vision/load.ts';
import { letterbox } from '../../../shared/vision/pixels.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FEED = resolve(repo, '../shared/datasets/luma-catalogue/catalogue.json');

interface Photo {
  sku: string;
  view: string;
  plain: Float32Array;
  productCrop: Float32Array;
  colour: Float32Array;
  descriptor: Float32Array;
}

let describer: ImageDescriber;
const photos: Photo[] = [];

beforeAll(async () => {
  describer = await loadDescriber({ manifestPath: resolve(repo, 'models/squeezenet1.1.manifest.json') });
  const { manifest } = describer.encoder;
  const feed = await readFeed(FEED);
  for (const product of feed.products) {
    for (const image of product.images) {
      const bytes = await readFile(image.location);
      const rgb = await decodeImage(bytes);
      const prepared = prepareImage(rgb, manifest);
      const whole = letterbox(
        rgb,
        { left: 0, top: 0, width: rgb.width, height: rgb.height },
        manifest.input.width,
      );
      const [plain, productCrop] = await describer.encoder.embed([whole, prepared.crop]);
      photos.push({
        sku: product.sku,
        view: image.view,
        plain: plain!,
        productCrop: productCrop!,
        colour: prepared.colour,
        descriptor: combineDescriptor(productCrop!, prepared.colour, manifest),
      });
    }
  }
}, 600_000);

function split(vector: (p: Photo) => Float32Array): { gallery: IndexedProduct[]; queries: LabelledQuery[] } {
  const gallery = new Map<string, IndexedProduct & { views: { view: string; vector: Float32Array }[] }>();
  const queries: LabelledQuery[] = [];
  for (const p of photos) {
    if (p.view === 'main') {
      const entry = gallery.get(p.sku) ?? { sku: p.sku, style: null, views: [] };
      entry.views.push({ view: p.view, vector: vector(p) });
      gallery.set(p.sku, entry);
    } else queries.push({ sku: p.sku, vector: vector(p) });
  }
  return { gallery: [...gallery.values()], queries };
}

const sqrtUnit = (v: Float32Array) => {
  const out = v.map((x) => Math.sqrt(Math.max(0, x)));
  const n = Math.hypot(...out) || 1;
  return out.map((x) => x / n);
};
const concat = (a: Float32Array, b: Float32Array) => {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

describe('matching quality on the luma catalogue', () => {
  it('production descriptor: the describer gives the same vectors as the steps assembled here', async () => {
    const feed = await readFeed(FEED);
    const image = feed.products[0]!.images[0]!;
    const [result] = await describer.describe([await readFile(image.location)]);
    const photo = photos.find((p) => p.sku === feed.products[0]!.sku && p.view === image.view)!;
    expect(result!.ok).toBe(true);
    if (result!.ok) expect(Array.from(result!.vector)).toEqual(Array.from(photo.descriptor));
  });

  it('top-1 ≥ 35% and top-5 ≥ 60% with each step measured', () => {
    const steps = [
      {
        step: 'plain: whole image, average-pooled fire9, cosine',
        figures: cosineRetrieval(...args(split((p) => p.plain))),
      },
      {
        step: '+ power (square-root) pooling',
        figures: cosineRetrieval(...args(split((p) => sqrtUnit(p.plain)))),
      },
      {
        step: '+ product crop (foreground box)',
        figures: cosineRetrieval(...args(split((p) => sqrtUnit(p.productCrop)))),
      },
      {
        step: '+ CIELAB colour histogram of the foreground',
        figures: cosineRetrieval(...args(split((p) => p.descriptor))),
      },
      {
        step: '+ PCA whitening learned on the gallery (production)',
        figures: retrieval(...args(split((p) => p.descriptor))),
      },
      { step: '(colour histogram alone)', figures: cosineRetrieval(...args(split((p) => p.colour))) },
    ];
    for (const { step, figures } of steps) {
      process.stdout.write(
        `| ${step} | ${pct(figures.top1)} | ${pct(figures.top5)} | ${figures.queries} |\n`,
      );
    }
    const final = steps[4]!.figures;
    expect(final.queries).toBeGreaterThan(200);
    expect(final.top1).toBeGreaterThanOrEqual(0.35);
    expect(final.top5).toBeGreaterThanOrEqual(0.6);
    // The plain model is far below: the steps, not the data, make the difference.
    expect(steps[0]!.figures.top1).toBeLessThan(0.35);
    expect(concat(photos[0]!.productCrop, photos[0]!.colour).length).toBe(photos[0]!.descriptor.length);
  });

  it('with a third of the SKUs out of the gallery, ≥ 80% of their photos are rejected and ≥ 80% of correct matches kept (policy learned on the other half)', () => {
    const { gallery, queries } = split((p) => p.descriptor);
    const figures = openSet(gallery, queries, 0.85);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    expect(figures.heldOut.outside).toBeGreaterThan(50);
    expect(figures.heldOut.correctTop1).toBeGreaterThan(50);
    expect(figures.heldOut.rejected).toBeGreaterThanOrEqual(0.8);
    expect(figures.heldOut.kept).toBeGreaterThanOrEqual(0.8);
  });
});

function args(s: {
  gallery: IndexedProduct[];
  queries: LabelledQuery[];
}): [IndexedProduct[], LabelledQuery[]] {
  return [s.gallery, s.queries];
}
