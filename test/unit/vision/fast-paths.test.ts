/**
 * The descriptor's fast paths give exactly what the step-by-step definitions give (the catalogue
 * topic holds vectors made either way under one DESCRIPTOR_ID): the one-pass `prepareImage`, the
 * precomputed-column letterbox and the inlined CIELAB histogram, on random and product-like images.
 */
import { describe, expect, it } from 'vitest';
import { colourHistogram, DEFAULT_COLOUR_BINS, rgbToLab } from '../../../shared/vision/colour.ts';
import { decodeImage } from '../../../shared/vision/decode.ts';
import { prepareImage } from '../../../shared/vision/descriptor.ts';
import type { ModelManifest } from '../../../shared/vision/manifest.ts';
import {
  type Box,
  foregroundBox,
  foregroundMask,
  letterbox,
  type Rgb,
} from '../../../shared/vision/pixels.ts';
import { productPhoto } from './bad-images.ts';

/** Deterministic pseudo-random bytes (xorshift). */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 255;
  }
  return out;
}

/** A backdrop with a noisy product in it: foreground at several distances from the backdrop. */
function scene(w: number, h: number, seed: number): Rgb {
  const data = noise(w * h * 3, seed);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = x > w * 0.25 && x < w * 0.7 && y > h * 0.2 && y < h * 0.8;
      if (inside) continue;
      const i = (y * w + x) * 3;
      // Backdrop near (235, 235, 230) with a little noise.
      data[i] = 230 + (data[i]! % 10);
      data[i + 1] = 230 + (data[i + 1]! % 10);
      data[i + 2] = 225 + (data[i + 2]! % 10);
    }
  }
  return { data, width: w, height: h };
}

/** The letterbox as first written: per pixel and per channel, no precomputation. */
function referenceLetterbox(
  image: Rgb,
  box: Box,
  size: number,
  fill: readonly [number, number, number],
  mirror: boolean,
): Rgb {
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < out.length; i += 3) out.set(fill, i);
  const scale = size / Math.max(box.width, box.height);
  const w = Math.max(1, Math.round(box.width * scale));
  const h = Math.max(1, Math.round(box.height * scale));
  const ox = (size - w) >> 1;
  const oy = (size - h) >> 1;
  const { data, width } = image;
  const maxX = box.left + box.width - 1;
  const maxY = box.top + box.height - 1;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(maxY, Math.max(box.top, box.top + (y + 0.5) / scale - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(maxY, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.min(maxX, Math.max(box.left, box.left + (x + 0.5) / scale - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(maxX, x0 + 1);
      const fx = sx - x0;
      const tx = mirror ? w - 1 - x : x;
      const o = ((oy + y) * size + ox + tx) * 3;
      for (let k = 0; k < 3; k++) {
        const at = (xx: number, yy: number) => data[(yy * width + xx) * 3 + k]!;
        const top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
        const bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
        out[o + k] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return { data: out, width: size, height: size };
}

/** The colour histogram as first written, through `rgbToLab`. */
function referenceHistogram(image: Rgb, mask: Uint8Array): Float32Array {
  const { lightness: nl, chroma: nc } = DEFAULT_COLOUR_BINS;
  const hist = new Float32Array(nl * nc * nc);
  let counted = 0;
  for (let p = 0; p < image.width * image.height; p++) {
    if (!mask[p]) continue;
    const [L, a, b] = rgbToLab(image.data[p * 3]!, image.data[p * 3 + 1]!, image.data[p * 3 + 2]!);
    const li = Math.min(nl - 1, Math.max(0, Math.floor((L / 100) * nl)));
    const ac = Math.min(nc - 1, Math.max(0, ((a + 64) / 128) * nc - 0.5));
    const bc = Math.min(nc - 1, Math.max(0, ((b + 64) / 128) * nc - 0.5));
    const a0 = Math.floor(ac);
    const b0 = Math.floor(bc);
    const a1 = Math.min(nc - 1, a0 + 1);
    const b1 = Math.min(nc - 1, b0 + 1);
    const fa = ac - a0;
    const fb = bc - b0;
    const base = li * nc * nc;
    hist[base + a0 * nc + b0]! += (1 - fa) * (1 - fb);
    hist[base + a1 * nc + b0]! += fa * (1 - fb);
    hist[base + a0 * nc + b1]! += (1 - fa) * fb;
    hist[base + a1 * nc + b1]! += fa * fb;
    counted++;
  }
  let norm = 0;
  for (let i = 0; i < hist.length; i++) {
    hist[i] = Math.sqrt(hist[i]! / counted);
    norm += hist[i]! * hist[i]!;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < hist.length; i++) hist[i]! /= norm;
  return hist;
}

const input = { width: 224, height: 224 } as ModelManifest['input'];
const manifest = { input } as ModelManifest;

describe('descriptor fast paths', () => {
  it('letterbox: identical bytes to the per-pixel definition, any box, fill and mirroring', () => {
    const image = { data: noise(97 * 61 * 3, 7), width: 97, height: 61 };
    const boxes: Box[] = [
      { left: 0, top: 0, width: 97, height: 61 },
      { left: 10, top: 5, width: 40, height: 50 },
      { left: 90, top: 60, width: 7, height: 1 },
    ];
    for (const box of boxes) {
      for (const [fill, mirror] of [
        [[255, 255, 255], false],
        [[10, 20, 30], true],
      ] as const) {
        for (const size of [32, 224]) {
          expect(letterbox(image, box, size, fill, mirror).data).toEqual(
            referenceLetterbox(image, box, size, fill, mirror).data,
          );
        }
      }
    }
  });

  it('prepareImage: the crop and colour histogram of the step-by-step definition, bit for bit', async () => {
    const decoded = await decodeImage(await productPhoto(900, 1100, '#2e86c1'));
    const images = [scene(320, 256, 1), scene(181, 320, 2), decoded, scene(40, 40, 3)];
    for (const image of images) {
      const fast = prepareImage(image, manifest);
      const box = foregroundBox(image, foregroundMask(image, 28));
      expect(fast.crop.data).toEqual(referenceLetterbox(image, box, 224, [255, 255, 255], false).data);
      const mask = foregroundMask(image, 40);
      expect(Array.from(fast.colour)).toEqual(Array.from(referenceHistogram(image, mask)));
      expect(Array.from(colourHistogram(image, mask))).toEqual(Array.from(fast.colour));
    }
  });
});
