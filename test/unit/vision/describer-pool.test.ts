/**
 * The describer on worker threads gives the same descriptors as the in-process describer, keeps a
 * bad image in its own slot (an ImageRejectedError with the reason, neighbours described), spreads
 * batches over its workers and refuses work once closed. Uses the real model from ../shared.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageRejectedError } from '../../../shared/vision/decode.ts';
import type { ImageDescriber } from '../../../shared/vision/describer.ts';
import { DescriberPool } from '../../../shared/vision/describer-pool.ts';
import { loadDescriber } from '../../../shared/vision/load.ts';
import { badImages, productPhoto } from './bad-images.ts';

const manifestPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../models/squeezenet1.1.manifest.json',
);

let pool: DescriberPool;
let local: ImageDescriber;

beforeAll(async () => {
  [pool, local] = await Promise.all([
    DescriberPool.start({ manifestPath, size: 2 }),
    loadDescriber({ manifestPath, threads: 1 }),
  ]);
});

afterAll(async () => {
  await pool?.close();
  await local?.close();
});

describe('DescriberPool', () => {
  it('describes exactly like the in-process describer, a bad image failing alone with its reason', async () => {
    const colours = ['#c0392b', '#1f2d3d', '#27ae60', '#f1c40f', '#8e44ad'];
    const good = await Promise.all(colours.map((c, i) => productPhoto(800 + i * 40, 1000, c)));
    const bad = await badImages();
    // More images than one model batch, so several workers get a share.
    const images = [...good, bad.truncatedJpeg!, ...good, bad.svg!, ...good, ...good];
    expect(images.length).toBeGreaterThan(pool.manifest.maxBatch);
    const [pooled, inProcess] = await Promise.all([pool.describe(images), local.describe(images)]);
    expect(pooled).toHaveLength(images.length);
    pooled.forEach((result, i) => {
      const expected = inProcess[i]!;
      expect(result.ok, `image ${i}`).toBe(expected.ok);
      if (result.ok && expected.ok) expect(Array.from(result.vector)).toEqual(Array.from(expected.vector));
      if (!result.ok && !expected.ok) {
        expect(result.error).toBeInstanceOf(ImageRejectedError);
        // libvips' own wording of a decode error varies between threads; the reason's kind does not.
        expect(result.error.message.split(':')[0]).toBe(expected.error.message.split(':')[0]);
      }
    });
    expect(pooled.filter((r) => !r.ok)).toHaveLength(2);
    expect((pooled[5] as { error: Error }).error.message).toMatch(/cannot decode jpeg/);
    expect((pooled[11] as { error: Error }).error.message).toMatch(/unsupported image format: svg/);
  });

  it('answers concurrent callers each with their own results, and nothing once closed', async () => {
    const red = await productPhoto(600, 700, '#c0392b');
    const black = await productPhoto(600, 700, '#111111');
    const [a, b] = await Promise.all([pool.describe([red, red]), pool.describe([black])]);
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(1);
    const vector = (r: (typeof a)[number]) => (r.ok ? Array.from(r.vector) : []);
    expect(vector(a[0]!)).toEqual(vector(a[1]!));
    expect(vector(a[0]!)).not.toEqual(vector(b[0]!));

    const closing = await DescriberPool.start({ manifestPath, size: 1 });
    await closing.close();
    await expect(closing.describe([red])).rejects.toThrow(/closed/);
  });

  it('refuses to start on a model file that does not match its manifest', async () => {
    await expect(DescriberPool.start({ manifestPath, modelFile: manifestPath, size: 1 })).rejects.toThrow(
      /sha256/,
    );
  });
});
