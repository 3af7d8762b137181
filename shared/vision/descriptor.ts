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
import type { ModelManifest } from './manifest.ts';
import { foregroundBox, foregroundMask, letterbox, type Rgb } from './pixels.ts';

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

export function prepareImage(image: Rgb, manifest: ModelManifest): PreparedImage {
  const box = foregroundBox(image, foregroundMask(image, BOX_TOLERANCE));
  const { width, height } = manifest.input;
  if (width !== height) throw new Error('descriptor letterboxing expects a square model input');
  return {
    crop: letterbox(image, box, width),
    colour: colourHistogram(image, foregroundMask(image, COLOUR_TOLERANCE)),
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
