/** Pure pixel operations on packed 8-bit RGB: foreground box, letterboxed crops, flips, tensors. */
import type { ModelManifest } from './manifest.ts';

export interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Median of each channel over the outermost pixel ring: the studio backdrop, or the scene edge. */
export function borderColour(image: Rgb): [number, number, number] {
  const { data, width, height } = image;
  const samples: number[][] = [[], [], []];
  const take = (x: number, y: number) => {
    const i = (y * width + x) * 3;
    for (let c = 0; c < 3; c++) samples[c]!.push(data[i + c]!);
  };
  for (let x = 0; x < width; x++) {
    take(x, 0);
    take(x, height - 1);
  }
  for (let y = 1; y < height - 1; y++) {
    take(0, y);
    take(width - 1, y);
  }
  return samples.map((s) => {
    s.sort((a, b) => a - b);
    return s[s.length >> 1]!;
  }) as [number, number, number];
}

/** 1 where a pixel differs from the backdrop colour by more than `tolerance` on some channel. */
export function foregroundMask(image: Rgb, tolerance = 28): Uint8Array {
  const { data, width, height } = image;
  const [br, bg, bb] = borderColour(image);
  const mask = new Uint8Array(width * height);
  for (let p = 0, i = 0; p < mask.length; p++, i += 3) {
    const d = Math.max(Math.abs(data[i]! - br), Math.abs(data[i + 1]! - bg), Math.abs(data[i + 2]! - bb));
    mask[p] = d > tolerance ? 1 : 0;
  }
  return mask;
}

/**
 * Bounding box of the foreground: rows and columns with at least `minShare` foreground pixels,
 * widened by `margin`. Falls back to the whole image when there is (almost) no foreground.
 */
export function foregroundBox(image: Rgb, mask = foregroundMask(image), minShare = 0.02, margin = 0.04): Box {
  const { width, height } = image;
  const cols = new Uint32Array(width);
  const rows = new Uint32Array(height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x]) {
        cols[x]!++;
        rows[y]!++;
      }
    }
  }
  return boxFromCounts(cols, rows, minShare, margin);
}

/**
 * The box of `foregroundBox` from its per-column and per-row foreground counts (a caller that
 * scans the pixels anyway can count them on the way).
 */
export function boxFromCounts(cols: Uint32Array, rows: Uint32Array, minShare = 0.02, margin = 0.04): Box {
  const width = cols.length;
  const height = rows.length;
  const first = (counts: Uint32Array, min: number) => counts.findIndex((c) => c >= min);
  const last = (counts: Uint32Array, min: number) => {
    for (let i = counts.length - 1; i >= 0; i--) if (counts[i]! >= min) return i;
    return -1;
  };
  const x0 = first(cols, minShare * height);
  const x1 = last(cols, minShare * height);
  const y0 = first(rows, minShare * width);
  const y1 = last(rows, minShare * width);
  if (x0 < 0 || y0 < 0 || x1 - x0 < width * 0.05 || y1 - y0 < height * 0.05) {
    return { left: 0, top: 0, width, height };
  }
  const mx = Math.round((x1 - x0 + 1) * margin);
  const my = Math.round((y1 - y0 + 1) * margin);
  const left = Math.max(0, x0 - mx);
  const top = Math.max(0, y0 - my);
  return {
    left,
    top,
    width: Math.min(width, x1 + 1 + mx) - left,
    height: Math.min(height, y1 + 1 + my) - top,
  };
}

/**
 * The `box` of `image` scaled (bilinear) to fit a `size`×`size` square, centred, the rest filled
 * with `fill`; `mirror` flips it left-right. Padding rather than cropping keeps the whole product.
 */
export function letterbox(
  image: Rgb,
  box: Box,
  size: number,
  fill: readonly [number, number, number] = [255, 255, 255],
  mirror = false,
): Rgb {
  const out = new Uint8Array(size * size * 3);
  const [fr, fg, fb] = fill;
  if (fr === fg && fg === fb) out.fill(fr);
  else {
    for (let i = 0; i < out.length; i += 3) {
      out[i] = fr;
      out[i + 1] = fg;
      out[i + 2] = fb;
    }
  }
  const scale = size / Math.max(box.width, box.height);
  const w = Math.max(1, Math.round(box.width * scale));
  const h = Math.max(1, Math.round(box.height * scale));
  const ox = (size - w) >> 1;
  const oy = (size - h) >> 1;
  const { data, width } = image;
  const maxX = box.left + box.width - 1;
  const maxY = box.top + box.height - 1;
  // Bilinear sampling positions depend on the column or the row only: computed once each.
  const colA = new Int32Array(w);
  const colB = new Int32Array(w);
  const colF = new Float64Array(w);
  for (let x = 0; x < w; x++) {
    const sx = Math.min(maxX, Math.max(box.left, box.left + (x + 0.5) / scale - 0.5));
    const x0 = Math.floor(sx);
    colA[x] = x0 * 3;
    colB[x] = Math.min(maxX, x0 + 1) * 3;
    colF[x] = sx - x0;
  }
  for (let y = 0; y < h; y++) {
    const sy = Math.min(maxY, Math.max(box.top, box.top + (y + 0.5) / scale - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(maxY, y0 + 1);
    const fy = sy - y0;
    const row0 = y0 * width * 3;
    const row1 = y1 * width * 3;
    const rowOut = ((oy + y) * size + ox) * 3;
    for (let x = 0; x < w; x++) {
      const fx = colF[x]!;
      const a = row0 + colA[x]!;
      const b = row0 + colB[x]!;
      const c = row1 + colA[x]!;
      const d = row1 + colB[x]!;
      const o = rowOut + (mirror ? w - 1 - x : x) * 3;
      for (let k = 0; k < 3; k++) {
        const top = data[a + k]! + (data[b + k]! - data[a + k]!) * fx;
        const bottom = data[c + k]! + (data[d + k]! - data[c + k]!) * fx;
        out[o + k] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return { data: out, width: size, height: size };
}

/** Writes `images` (each input.width × input.height) into one batch tensor as the manifest wants. */
export function toTensor(images: readonly Rgb[], input: ModelManifest['input']): Float32Array {
  const { width, height, layout, channelOrder, scale, mean, std } = input;
  const plane = width * height;
  const tensor = new Float32Array(images.length * 3 * plane);
  // Source channel (RGB) feeding tensor channel c.
  const source = channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  images.forEach((image, n) => {
    if (image.width !== width || image.height !== height) {
      throw new Error(`image is ${image.width}×${image.height}, the model wants ${width}×${height}`);
    }
    const base = n * 3 * plane;
    const data = image.data;
    for (let c = 0; c < 3; c++) {
      const s = source[c]!;
      const m = mean[c]!;
      const inv = 1 / std[c]!;
      if (layout === 'NCHW') {
        const start = base + c * plane;
        for (let p = 0, i = s; p < plane; p++, i += 3) tensor[start + p] = (data[i]! * scale - m) * inv;
      } else {
        for (let p = 0, i = s; p < plane; p++, i += 3)
          tensor[base + p * 3 + c] = (data[i]! * scale - m) * inv;
      }
    }
  });
  return tensor;
}
