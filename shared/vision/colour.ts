/**
 * Colour descriptor of the product: a joint CIELAB histogram of the foreground pixels (the studio
 * backdrop, or whatever matches the border colour, is left out). CIELAB is roughly perceptually
 * uniform, so equal bins are equal colour differences; soft assignment along a* and b* stops small
 * shifts of white balance from jumping bins. The square root of the normalised histogram (Hellinger)
 * makes a dot product a fair similarity.
 */
import type { Rgb } from './pixels.ts';

export interface ColourBins {
  lightness: number;
  chroma: number;
}

export const DEFAULT_COLOUR_BINS: ColourBins = { lightness: 4, chroma: 8 };

export function colourDimension(bins: ColourBins = DEFAULT_COLOUR_BINS): number {
  return bins.lightness * bins.chroma * bins.chroma;
}

const SRGB_TO_LINEAR = new Float32Array(256).map((_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);

export function rgbToLab(r: number, g: number, b: number): [number, number, number] {
  const R = SRGB_TO_LINEAR[r]!;
  const G = SRGB_TO_LINEAR[g]!;
  const B = SRGB_TO_LINEAR[b]!;
  const x = f((0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047);
  const y = f(0.2126 * R + 0.7152 * G + 0.0722 * B);
  const z = f((0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

/** a* and b* beyond ±CHROMA_RANGE are clamped into the outer bins (fashion colours rarely go past it). */
const CHROMA_RANGE = 64;

export function colourHistogram(
  image: Rgb,
  mask: Uint8Array | null,
  bins: ColourBins = DEFAULT_COLOUR_BINS,
): Float32Array {
  const { lightness: nl, chroma: nc } = bins;
  const hist = new Float32Array(nl * nc * nc);
  const { data } = image;
  const pixels = image.width * image.height;
  const lin = SRGB_TO_LINEAR;
  let counted = 0;
  for (let p = 0, i = 0; p < pixels; p++, i += 3) {
    if (mask && !mask[p]) continue;
    // rgbToLab, inlined (the same arithmetic, without an array per pixel).
    const R = lin[data[i]!]!;
    const G = lin[data[i + 1]!]!;
    const B = lin[data[i + 2]!]!;
    const x = f((0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047);
    const y = f(0.2126 * R + 0.7152 * G + 0.0722 * B);
    const z = f((0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883);
    const L = 116 * y - 16;
    const a = 500 * (x - y);
    const b = 200 * (y - z);
    const li = Math.min(nl - 1, Math.max(0, Math.floor((L / 100) * nl)));
    // Continuous bin coordinates, split between the two nearest bins.
    const ac = Math.min(nc - 1, Math.max(0, ((a + CHROMA_RANGE) / (2 * CHROMA_RANGE)) * nc - 0.5));
    const bc = Math.min(nc - 1, Math.max(0, ((b + CHROMA_RANGE) / (2 * CHROMA_RANGE)) * nc - 0.5));
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
  if (counted === 0) return hist;
  let norm = 0;
  for (let i = 0; i < hist.length; i++) {
    hist[i] = Math.sqrt(hist[i]! / counted);
    norm += hist[i]! * hist[i]!;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < hist.length; i++) hist[i]! /= norm;
  return hist;
}
