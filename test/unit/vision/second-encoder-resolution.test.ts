/**
 * An encoder with a larger input than SqueezeNet's 224 px gets images decoded at a resolution
 * that fits it. The describer used to decode every image to at most 320 px (DEFAULT_DECODE, sized
 * for 224-px SqueezeNet), so a 448-px model was always fed an upscaled, blurred crop. The probe
 * model (test/support/onnx-model.ts `sharpnessModel`) measures [mean |horizontal step|, mean value]
 * of what it is fed; a photo of 1-px black and white columns at the model's own size must reach it
 * unchanged: exactly [1, 0.5].
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DECODE, decodeImage } from '../../../shared/vision/decode.ts';
import type { ImageDescriber } from '../../../shared/vision/describer.ts';
import { DescriberPool } from '../../../shared/vision/describer-pool.ts';
import { prepareImage } from '../../../shared/vision/descriptor.ts';
import { loadDescriber } from '../../../shared/vision/load.ts';
import type { Rgb } from '../../../shared/vision/pixels.ts';
import { type ManifestInput, sharpnessModel, writeEncoder } from '../../support/onnx-model.ts';

/** 1-px columns, black at even x, white at odd x, as raw RGB. */
function columns(size: number): Buffer {
  const raw = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++)
    for (let x = 1; x < size; x += 2) raw.fill(255, (y * size + x) * 3, (y * size + x) * 3 + 3);
  return raw;
}

const png = (raw: Buffer, size: number) =>
  sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();

const input = (size: number): ManifestInput => ({
  width: size,
  height: size,
  layout: 'NHWC',
  channelOrder: 'RGB',
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
});

let dir: string;
const opened: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'second-encoder-resolution-'));
});

afterAll(async () => {
  await Promise.all(opened.map((d) => d.close()));
  await rm(dir, { recursive: true, force: true });
});

async function describerFor(size: number): Promise<{ local: ImageDescriber; manifestPath: string }> {
  const { manifestPath } = await writeEncoder(
    dir,
    `sharpness-${size}`,
    sharpnessModel({ layout: 'NHWC', size }),
    input(size),
    {
      l2Normalize: true,
      nonNegative: true,
    },
  );
  const local = await loadDescriber({ manifestPath, threads: 1 });
  opened.push(local);
  return { local, manifestPath };
}

describe('the decode resolution follows the model input', () => {
  it.each([224, 448, 512])(
    'a %i-px photo of 1-px columns reaches a model of that size pixel for pixel',
    async (size) => {
      const raw = columns(size);
      const { local } = await describerFor(size);
      // The describer's own decode and product crop (the whole frame here: half the columns are the
      // backdrop colour, the others span it edge to edge).
      const prepared = await local.prepare(await png(raw, size));
      expect([prepared.crop.width, prepared.crop.height]).toEqual([size, size]);
      const differing = prepared.crop.data.reduce((n, v, i) => n + (v === raw[i]! ? 0 : 1), 0);
      expect(differing, `pixels changed on the way to a ${size}-px model`).toBe(0);
      const [measured] = await local.encoder.embed([prepared.crop]);
      expect(Array.from(measured!)).toEqual([1, 0.5]);
    },
  );

  it('keeps the 320-px decode of a 224-px model, and a larger maxSide a caller asks for', async () => {
    const { local, manifestPath } = await describerFor(224);
    const wide = await loadDescriber({ manifestPath, threads: 1, decode: { maxSide: 2000 } });
    opened.push(wide);
    // 1000-px columns: how much of them survives depends on the decode size.
    const photo = await png(columns(1000), 1000);
    const byDefault = await local.prepare(photo);
    // For SqueezeNet's 224 px nothing changed: the same crop as a plain 320-px decode gives.
    expect(DEFAULT_DECODE.maxSide).toBe(320);
    const plain = prepareImage(await decodeImage(photo, DEFAULT_DECODE), local.manifest);
    expect(Buffer.from(byDefault.crop.data).equals(Buffer.from(plain.crop.data))).toBe(true);
    // A caller asking for more gets it: the columns survive far better.
    const sharpness = async (crop: Rgb) => (await local.encoder.embed([crop]))[0]![0]!;
    const [atDefault, at2000] = [
      await sharpness(byDefault.crop),
      await sharpness((await wide.prepare(photo)).crop),
    ];
    expect(at2000).toBeGreaterThan(10 * atDefault);
  });

  it('in the describer pool as well: a 448-px model measures the photo, not an upscaled thumbnail', async () => {
    const size = 448;
    const { manifestPath } = await describerFor(size);
    const pool = await DescriberPool.start({ manifestPath, size: 1 });
    opened.push(pool);
    const [result] = await pool.describe([await png(columns(size), size)]);
    expect(result!.ok).toBe(true);
    // The descriptor L2-normalises the model's [1, 0.5] (square roots first: nonNegative).
    const [a, b] = [1, Math.sqrt(0.5)];
    const length = Math.hypot(a, b);
    const vector = (result as { vector: Float32Array }).vector;
    expect(vector[0]).toBeCloseTo(a / length, 6);
    expect(vector[1]).toBeCloseTo(b / length, 6);
  });
});
