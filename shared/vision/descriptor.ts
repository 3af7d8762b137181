/**
 * The descriptor of one image, the thing the catalogue and member photos are compared by:
 *   1. the product region: the bounding box of pixels that differ from the border colour (the
 *      studio backdrop), letterboxed to the model's input — the product fills the frame instead of
 *      a third of it;
 *   2. the encoder's pooled output, square-rooted when non-negative (power normalisation tames the
 *      few huge activations that average pooling lets dominate) and L2-normalised;
 *   3. a CIELAB colour histogram of the same foreground, which the ImageNet features barely encode
 *      (red and black shoes look alike to them), concatenated with weight COLOUR_WEIGHT.
 * Whitening (learned on the catalogue) is applied later by the index, so these raw descriptors are
 * what the catalogue topic and Elasticsearch carry and what `photoEmbedding` holds.
 */
import { colourDimension, colourHistogram, DEFAULT_COLOUR_BINS } from './colour.ts';
import { l2Normalize } from './linalg.ts';
import { type ModelManifest, ModelMismatchError } from './manifest.ts';
import { borderColour, boxFromCounts, letterbox, type Rgb } from './pixels.ts';

/** Names the pipeline below; bump it whenever the steps change so old vectors are not mixed in. */
export const DESCRIPTOR_ID = 'fgbox-sqrt+lab4x8x8-v1';
export const COLOUR_WEIGHT = 1;
/**
 * The colour histogram uses a stricter foreground (further from the backdrop) than the crop box:
 * near-backdrop pixels (shadows, soft edges) carry the backdrop's colour, not the product's.
 */
const BOX_TOLERANCE = 28;
const COLOUR_TOLERANCE = 40;

export interface PreparedImage {
  /** What the encoder sees. */
  crop: Rgb;
  colour: Float32Array;
}

/**
 * The same result as `foregroundBox(image, foregroundMask(image, BOX_TOLERANCE))` for the crop and
 * `colourHistogram(image, foregroundMask(image, COLOUR_TOLERANCE))` for the colour, in one pass over
 * the pixels: the backdrop colour is taken once, each pixel's distance to it computed once, the
 * crop box counted on the way (test/unit/vision checks the equality).
 */
export function prepareImage(image: Rgb, manifest: ModelManifest): PreparedImage {
  const { width, height } = manifest.input;
  if (width !== height) {
    // The manifest schema refuses this; a hand-built manifest must not pass for a bad image either.
    throw new ModelMismatchError(
      `input.width ${width} ≠ input.height ${height}: the descriptor letterboxes into a square`,
    );
  }
  const { data, width: w, height: h } = image;
  const [br, bg, bb] = borderColour(image);
  const colourMask = new Uint8Array(w * h);
  const cols = new Uint32Array(w);
  const rows = new Uint32Array(h);
  for (let y = 0, p = 0, i = 0; y < h; y++) {
    let inRow = 0;
    for (let x = 0; x < w; x++, p++, i += 3) {
      const dr = data[i]! - br;
      const dg = data[i + 1]! - bg;
      const db = data[i + 2]! - bb;
      let d = dr < 0 ? -dr : dr;
      if (dg > d) d = dg;
      else if (-dg > d) d = -dg;
      if (db > d) d = db;
      else if (-db > d) d = -db;
      if (d > BOX_TOLERANCE) {
        cols[x]!++;
        inRow++;
        if (d > COLOUR_TOLERANCE) colourMask[p] = 1;
      }
    }
    rows[y] = inRow;
  }
  return {
    crop: letterbox(image, boxFromCounts(cols, rows), width),
    colour: colourHistogram(image, colourMask),
  };
}

export function descriptorDimension(manifest: ModelManifest): number {
  return manifest.output.dimension + colourDimension(DEFAULT_COLOUR_BINS);
}

export function combineDescriptor(
  embedding: Float32Array,
  colour: Float32Array,
  manifest: ModelManifest,
): Float32Array {
  const dim = embedding.length;
  const out = new Float32Array(dim + colour.length);
  for (let i = 0; i < dim; i++) {
    const v = embedding[i]!;
    out[i] = manifest.output.nonNegative ? Math.sqrt(Math.max(0, v)) : v;
  }
  l2Normalize(out.subarray(0, dim));
  for (let i = 0; i < colour.length; i++) out[dim + i] = colour[i]! * COLOUR_WEIGHT;
  return out;
}
