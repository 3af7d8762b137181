/**
 * A non-SqueezeNet encoder through the paths the services use: the describer pool (worker threads),
 * the catalogue sync's descriptors, the compacted topic's record, the embedder's catalogue memory
 * and index (built on its worker thread), and the embedder's batch handler that turns uploads into
 * mentions. The encoder is a small real ONNX model built at test time (test/support/onnx-model.ts):
 * NHWC, RGB, 0..1 with CLIP's mean and std, 32×32 input, a 4×4 grid of average-pooled channel
 * values as a 48-value embedding (signed: nonNegative false). The products all have one colour
 * and differ only by shape, so the colour histogram cannot tell them apart: only the model's part of
 * the descriptor can.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogueChange, catalogueKey } from '../../../services/catalogue/catalogue-topic.ts';
import { embedCatalogue } from '../../../services/catalogue/embed-catalogue.ts';
import { parseJsonFeed } from '../../../services/catalogue/feed.ts';
import { planSync } from '../../../services/catalogue/plan.ts';
import { CatalogueMemory } from '../../../services/embedder/catalogue-memory.ts';
import { embedderHandler } from '../../../services/embedder/handler.ts';
import { FilesystemBlobStore } from '../../../shared/blobstore/blob-store.ts';
import {
  CatalogueEmbedding,
  type Mention,
  Mention as MentionSchema,
  type Upload,
  Upload as UploadSchema,
} from '../../../shared/contracts/events.ts';
import { decode, encode } from '../../../shared/kafka/codec.ts';
import type { InboundRecord } from '../../../shared/kafka/consumer-runner.ts';
import type { ImageFetcher } from '../../../shared/net/image-fetcher.ts';
import { colourDimension } from '../../../shared/vision/colour.ts';
import type { ImageDescriber } from '../../../shared/vision/describer.ts';
import { DescriberPool } from '../../../shared/vision/describer-pool.ts';
import { DESCRIPTOR_ID, descriptorDimension } from '../../../shared/vision/descriptor.ts';
import { loadDescriber } from '../../../shared/vision/load.ts';
import { type EncoderFiles, gridModel, writeEncoder } from '../../support/onnx-model.ts';

const CLIP = {
  mean: [0.48145466, 0.4578275, 0.40821073] as [number, number, number],
  std: [0.26862954, 0.26130258, 0.27577711] as [number, number, number],
};
const MODEL_ID = 'tiny-grid-clip';
const SIZE = 32;
const GRID = 4;

type Shape =
  | 'square'
  | 'disc'
  | 'ring'
  | 'triangle-up'
  | 'triangle-down'
  | 'diamond'
  | 'tall-bar'
  | 'wide-bar';
const SHAPES: Shape[] = [
  'square',
  'disc',
  'ring',
  'triangle-up',
  'triangle-down',
  'diamond',
  'tall-bar',
  'wide-bar',
];
const INK = '#1f4e9c';

/** The shape in a `side`-px box whose top-left corner is (x, y). */
function shapeSvg(shape: Shape, x: number, y: number, side: number): string {
  const [cx, cy, r] = [x + side / 2, y + side / 2, side / 2];
  const points = (list: number[][]) =>
    `<polygon points="${list.map(([px, py]) => `${px},${py}`).join(' ')}" fill="${INK}"/>`;
  switch (shape) {
    case 'square':
      return `<rect x="${x}" y="${y}" width="${side}" height="${side}" fill="${INK}"/>`;
    case 'disc':
      return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${INK}"/>`;
    case 'ring':
      return `<circle cx="${cx}" cy="${cy}" r="${r * 0.75}" fill="none" stroke="${INK}" stroke-width="${r / 2}"/>`;
    case 'triangle-up':
      return points([
        [cx, y],
        [x + side, y + side],
        [x, y + side],
      ]);
    case 'triangle-down':
      return points([
        [x, y],
        [x + side, y],
        [cx, y + side],
      ]);
    case 'diamond':
      return points([
        [cx, y],
        [x + side, cy],
        [cx, y + side],
        [x, cy],
      ]);
    case 'tall-bar':
      return `<rect x="${cx - side / 6}" y="${y}" width="${side / 3}" height="${side}" fill="${INK}"/>`;
    case 'wide-bar':
      return `<rect x="${x}" y="${cy - side / 6}" width="${side}" height="${side / 3}" fill="${INK}"/>`;
  }
}

/** A product photo: the shape on a plain backdrop, as PNG (studio) or JPEG (phone). */
async function photo(
  shape: Shape,
  frame: { width: number; height: number; x: number; y: number; side: number; backdrop: string },
  format: 'png' | 'jpeg',
): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${frame.width}" height="${frame.height}">
    <rect width="100%" height="100%" fill="${frame.backdrop}"/>${shapeSvg(shape, frame.x, frame.y, frame.side)}</svg>`;
  const image = sharp(Buffer.from(svg));
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 85 }).toBuffer();
}

const studio = { width: 600, height: 600, x: 150, y: 150, side: 300, backdrop: '#f4f4f4' };
const studioAlt = { width: 800, height: 640, x: 420, y: 120, side: 360, backdrop: '#f7f7f7' };
const phone = { width: 900, height: 700, x: 180, y: 260, side: 260, backdrop: '#e9e9e9' };

let dir: string;
let encoder: EncoderFiles;
let pool: DescriberPool;
let local: ImageDescriber;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'second-encoder-matching-'));
  encoder = await writeEncoder(
    dir,
    MODEL_ID,
    gridModel({ layout: 'NHWC', size: SIZE, grid: GRID }),
    { width: SIZE, height: SIZE, layout: 'NHWC', channelOrder: 'RGB', scale: 1 / 255, ...CLIP },
    { l2Normalize: true, nonNegative: false },
    // Small batches, so a handful of images is spread over both workers.
    4,
  );
  [pool, local] = await Promise.all([
    DescriberPool.start({ manifestPath: encoder.manifestPath, size: 2 }),
    loadDescriber({ manifestPath: encoder.manifestPath, threads: 1 }),
  ]);
});

afterAll(async () => {
  await pool?.close();
  await local?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a second encoder in the describer pool', () => {
  it('describes a solid colour as the manifest contract and the descriptor say, on every thread', async () => {
    // A full-frame colour has no foreground: the crop is the whole frame (a solid 32×32 red) and
    // the colour histogram is empty. Each grid cell of channel k is then (v × scale − mean[k]) / std[k]
    // (RGB order), 16 cells per channel, channel-major; the descriptor L2-normalises them, signs kept.
    const red = await sharp({
      create: { width: 64, height: 64, channels: 3, background: { r: 255, g: 0, b: 0 } },
    })
      .png()
      .toBuffer();
    const channel = [255, 0, 0].map((v, k) => (v / 255 - CLIP.mean[k]!) / CLIP.std[k]!);
    const length = Math.sqrt(GRID * GRID * channel.reduce((s, v) => s + v * v, 0));
    const expected = [
      ...channel.flatMap((v) => Array.from({ length: GRID * GRID }, () => v / length)),
      ...new Array<number>(colourDimension()).fill(0),
    ];
    expect(descriptorDimension(pool.manifest)).toBe(3 * GRID * GRID + colourDimension());

    const images = Array.from({ length: 9 }, () => red);
    const [pooled, inProcess] = await Promise.all([pool.describe(images), local.describe(images)]);
    for (const [i, result] of [...pooled, ...inProcess].entries()) {
      expect(result.ok, `image ${i}`).toBe(true);
      const vector = (result as { vector: Float32Array }).vector;
      expect(vector.length).toBe(expected.length);
      vector.forEach((v, j) => {
        expect(Math.abs(v - expected[j]!), `image ${i} value ${j}`).toBeLessThan(1e-5);
      });
    }
    expect(pool.modelId).toBe(MODEL_ID);
    expect(pool.descriptorId).toBe(DESCRIPTOR_ID);
  });

  it('matches phone photos to the right SKU through the sync, the catalogue topic and the embedder', async () => {
    // The catalogue sync: a feed of two studio views per SKU, described in process.
    const catalogueDir = join(dir, 'catalogue');
    await mkdir(catalogueDir, { recursive: true });
    const feed = [];
    for (const shape of SHAPES) {
      await writeFile(join(catalogueDir, `${shape}-main.png`), await photo(shape, studio, 'png'));
      await writeFile(join(catalogueDir, `${shape}-alt.png`), await photo(shape, studioAlt, 'png'));
      feed.push({
        sku: `SHAPE-${shape.toUpperCase()}`,
        style: shape,
        colour: 'blue',
        images: [
          { file: `${shape}-main.png`, view: 'main' },
          { file: `${shape}-alt.png`, view: 'alt' },
        ],
      });
    }
    const parsed = parseJsonFeed(JSON.stringify(feed), catalogueDir);
    expect(parsed.problems).toEqual([]);
    const report = await embedCatalogue(parsed.products, { describer: local });
    expect(report.problems).toEqual([]);
    const plan = planSync({
      current: new Map(),
      embedded: report.products,
      feedSkus: new Set(parsed.products.map((p) => p.sku)),
      modelId: local.modelId,
      descriptor: local.descriptorId,
      now: new Date('2026-11-20T09:00:00Z'),
    });
    expect(plan.publish).toHaveLength(SHAPES.length);

    // The embedder: reads the topic's records (key and value as the sync writes them) into its
    // catalogue memory, keeping only vectors of its own model, descriptor and dimension.
    const memory = new CatalogueMemory(pool.modelId, pool.descriptorId, descriptorDimension(pool.manifest));
    for (const embedding of plan.publish) {
      expect(embedding.dimension).toBe(3 * GRID * GRID + colourDimension());
      const key = catalogueKey(embedding.sku, embedding.modelId, embedding.descriptor);
      const change = catalogueChange(
        key,
        encode(CatalogueEmbedding, embedding),
        pool.modelId,
        pool.descriptorId,
      );
      expect(memory.apply(change)).toBe('changed');
    }
    const index = await memory.rebuildInBackground();
    expect(index.productCount).toBe(SHAPES.length);
    expect(index.rowCount).toBe(2 * SHAPES.length);

    // Uploads of phone photos (JPEG, another backdrop, framing and size), through the handler.
    const blobs = new FilesystemBlobStore(join(dir, 'blobs'));
    const uploads: Upload[] = [];
    for (const [i, shape] of SHAPES.entries()) {
      const ref = await blobs.put(await photo(shape, phone, 'jpeg'));
      uploads.push({
        eventId: `evt-${i}`,
        postId: `post-${i}`,
        memberId: `member-${i}`,
        images: [{ blobRef: ref }],
        caption: '',
        hashtags: [],
        location: { country: 'GB', city: 'London' },
        clientTimestamp: '2026-11-20T10:00:00.000Z',
        receivedAt: '2026-11-20T10:00:01.000Z',
        source: 'test',
      });
    }
    const handler = embedderHandler({
      describer: pool,
      inFlightBatches: pool.parallelism,
      sources: { blobs, fetcher: {} as ImageFetcher },
      index: () => memory.index,
      policy: { threshold: 0.5, margin: 0.02 },
      keepCandidates: 3,
      mentionsTopic: 'mentions',
      deadLetterTopic: 'dead-letters',
      service: 'embedder',
      now: () => new Date('2026-11-20T10:00:02Z'),
    });
    const records = uploads.map((u, offset) => uploadsRecord(encode(UploadSchema, u), offset));
    const outcomes = await handler(records, { heartbeat: async () => {}, attempt: 1, maxAttempts: 3 });
    const mentions: Mention[] = outcomes.flatMap((o) =>
      o.kind === 'done' ? (o.outputs ?? []).map((r) => decode(MentionSchema, r.value as Buffer)) : [],
    );
    expect(outcomes.map((o) => o.kind)).toEqual(SHAPES.map(() => 'done'));
    expect(mentions.map((m) => (m.kind === 'mention' ? m.sku : 'no-match'))).toEqual(
      SHAPES.map((s) => `SHAPE-${s.toUpperCase()}`),
    );
    for (const m of mentions) {
      expect(m.modelId).toBe(MODEL_ID);
      expect(m.photoEmbedding).toHaveLength(3 * GRID * GRID + colourDimension());
    }
  });
});

/** A record of the uploads topic holding `value`. */
function uploadsRecord(value: Buffer, offset: number): InboundRecord {
  const key = Buffer.from(`post-${offset}`);
  return {
    topic: 'uploads',
    partition: 0,
    offset: String(offset),
    key,
    value,
    headers: {},
    timestamp: 0,
    message: { offset: String(offset), key, value, timestamp: '0' },
  } as unknown as InboundRecord;
}
