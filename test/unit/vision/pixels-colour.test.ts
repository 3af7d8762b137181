import { describe, expect, it } from 'vitest';
import { colourHistogram, rgbToLab } from '../../../shared/vision/colour.ts';
import {
  borderColour,
  foregroundBox,
  foregroundMask,
  letterbox,
  type Rgb,
  toTensor,
} from '../../../shared/vision/pixels.ts';

/** A `w`×`h` image of `background` with a `fill` rectangle. */
function canvas(
  w: number,
  h: number,
  background: number[],
  rect?: { x: number; y: number; w: number; h: number; fill: number[] },
): Rgb {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = rect && x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h;
      data.set(inside ? rect.fill : background, (y * w + x) * 3);
    }
  }
  return { data, width: w, height: h };
}

describe('foreground', () => {
  const image = canvas(100, 80, [240, 240, 240], { x: 30, y: 20, w: 40, h: 30, fill: [200, 20, 20] });

  it('takes the backdrop colour from the border', () => {
    expect(borderColour(image)).toEqual([240, 240, 240]);
  });

  it('boxes the product with a small margin', () => {
    const box = foregroundBox(image);
    expect(box.left).toBeGreaterThanOrEqual(27);
    expect(box.left).toBeLessThanOrEqual(30);
    expect(box.top).toBeGreaterThanOrEqual(17);
    expect(box.left + box.width).toBeGreaterThanOrEqual(70);
    expect(box.left + box.width).toBeLessThanOrEqual(73);
    expect(box.top + box.height).toBeLessThanOrEqual(53);
  });

  it('falls back to the whole frame when nothing stands out', () => {
    expect(foregroundBox(canvas(50, 50, [10, 200, 10]))).toEqual({ left: 0, top: 0, width: 50, height: 50 });
  });

  it('masks exactly the pixels far from the backdrop', () => {
    const mask = foregroundMask(image);
    expect(mask.reduce((a, b) => a + b, 0)).toBe(40 * 30);
  });
});

describe('letterbox', () => {
  it('fits the box into a square, centred, padding with the fill colour, optionally mirrored', () => {
    const image = canvas(40, 20, [0, 0, 0], { x: 0, y: 0, w: 20, h: 20, fill: [255, 0, 0] });
    const out = letterbox(image, { left: 0, top: 0, width: 40, height: 20 }, 10);
    const at = (img: Rgb, x: number, y: number) =>
      Array.from(img.data.subarray((y * 10 + x) * 3, (y * 10 + x) * 3 + 3));
    expect(at(out, 0, 0)).toEqual([255, 255, 255]); // padding above
    expect(at(out, 1, 4)).toEqual([255, 0, 0]); // left half red
    expect(at(out, 8, 4)).toEqual([0, 0, 0]);
    const mirrored = letterbox(image, { left: 0, top: 0, width: 40, height: 20 }, 10, [255, 255, 255], true);
    expect(at(mirrored, 8, 4)).toEqual([255, 0, 0]);
  });
});

describe('toTensor', () => {
  it('writes BGR NCHW with mean subtraction as the SqueezeNet card says', () => {
    const image = canvas(2, 1, [10, 20, 30]);
    const t = toTensor([image], {
      name: 'x',
      width: 2,
      height: 1,
      layout: 'NCHW',
      channelOrder: 'BGR',
      scale: 1,
      mean: [104, 117, 123],
      std: [1, 1, 1],
    });
    expect(Array.from(t)).toEqual([30 - 104, 30 - 104, 20 - 117, 20 - 117, 10 - 123, 10 - 123]);
  });

  it('writes RGB NHWC scaled to 0..1 with mean/std as a CLIP manifest would', () => {
    const image = canvas(1, 1, [255, 0, 51]);
    const t = toTensor([image], {
      name: 'x',
      width: 1,
      height: 1,
      layout: 'NHWC',
      channelOrder: 'RGB',
      scale: 1 / 255,
      mean: [0.5, 0, 0.1],
      std: [0.5, 1, 0.1],
    });
    expect(Array.from(t).map((v) => Math.round(v * 1000) / 1000)).toEqual([1, 0, 1]);
  });
});

describe('colour histogram', () => {
  it('converts sRGB to CIELAB (white, black, red)', () => {
    expect(rgbToLab(255, 255, 255).map((v) => Math.abs(Math.round(v)))).toEqual([100, 0, 0]);
    expect(rgbToLab(0, 0, 0).map((v) => Math.abs(Math.round(v)))).toEqual([0, 0, 0]);
    const [L, a, b] = rgbToLab(255, 0, 0);
    expect(L).toBeCloseTo(53.2, 0);
    expect(a).toBeCloseTo(80.1, 0);
    expect(b).toBeCloseTo(67.2, 0);
  });

  it('tells a red product from a black one and ignores the backdrop', () => {
    const red = canvas(60, 60, [245, 245, 245], { x: 20, y: 20, w: 20, h: 20, fill: [190, 30, 40] });
    const redOnGrey = canvas(60, 60, [200, 200, 200], { x: 10, y: 10, w: 30, h: 40, fill: [185, 35, 40] });
    const black = canvas(60, 60, [245, 245, 245], { x: 20, y: 20, w: 20, h: 20, fill: [20, 20, 25] });
    const h = (img: Rgb) => colourHistogram(img, foregroundMask(img));
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    expect(cos(h(red), h(redOnGrey))).toBeGreaterThan(0.9);
    expect(cos(h(red), h(black))).toBeLessThan(0.1);
    expect(Math.hypot(...h(red))).toBeCloseTo(1, 5);
  });
});
