/**
 * A model manifest describes any ONNX image encoder well enough to feed it and read it: where the
 * file is (and its checksum), the input tensor's name, size, layout, channel order and
 * normalisation, and the output that holds the embedding. Swapping SqueezeNet for a CLIP-style
 * encoder is a new manifest, not new code.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

const Triple = z.tuple([z.number(), z.number(), z.number()]);

export const ModelManifest = z.object({
  /** Stable id carried by every embedding and mention, e.g. `squeezenet1.1`. */
  id: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9._-]+$/, 'a model id is letters, digits, dot, underscore or dash'),
  description: z.string().max(500).optional(),
  /** Path of the .onnx file, relative to the manifest's folder unless absolute. */
  file: z.string().min(1),
  /** sha256 of the .onnx file, hex; checked when the model is pulled and when it is loaded. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Where `trend-radar models pull` may fetch the file from when it is not on disk (https). */
  sourceUrl: z.url().optional(),
  input: z
    .object({
      name: z.string().min(1),
      width: z.number().int().positive().max(2048),
      height: z.number().int().positive().max(2048),
      layout: z.enum(['NCHW', 'NHWC']),
      channelOrder: z.enum(['RGB', 'BGR']),
      /** Pixels (0..255) are multiplied by `scale`, then `(x - mean) / std` per channel in `channelOrder`. */
      scale: z.number().positive(),
      mean: Triple,
      std: Triple.refine((t) => t.every((v) => v > 0), 'std must be positive'),
    })
    // The descriptor letterboxes the product crop into a square: a rectangular input would fail every image.
    .refine((input) => input.width === input.height, {
      message: 'the input must be square (width = height): the product crop is letterboxed into a square',
      path: ['height'],
    }),
  output: z.object({
    name: z.string().min(1),
    dimension: z.number().int().positive().max(8192),
    /** Whether the raw output should be L2-normalised before it is compared. */
    l2Normalize: z.boolean(),
    /** The output is post-ReLU (non-negative), so a square-root (Hellinger) map is meaningful. */
    nonNegative: z.boolean().default(false),
  }),
  /** Largest batch the encoder is run with. */
  maxBatch: z.number().int().positive().max(256).default(16),
});
export type ModelManifest = z.infer<typeof ModelManifest>;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/**
 * The model file does not take or give what its manifest says (input size, layout, type, output
 * dimension…). Found when the model is loaded; if it ever surfaces during inference it is neither
 * the image's fault nor transient: every image would fail the same way.
 */
export class ModelMismatchError extends ManifestError {
  override name = 'ModelMismatchError';
}

export interface LoadedManifest {
  manifest: ModelManifest;
  /** Absolute path of the model file. */
  modelPath: string;
  manifestPath: string;
}

/** Reads and validates a manifest; `modelFileOverride` (e.g. MODEL_FILE) replaces its `file`. */
export async function loadManifest(
  manifestPath: string,
  modelFileOverride?: string,
): Promise<LoadedManifest> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (error) {
    throw new ManifestError(`cannot read model manifest ${manifestPath}: ${(error as Error).message}`);
  }
  const parsed = ModelManifest.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ManifestError(`invalid model manifest ${manifestPath}: ${issues}`);
  }
  const file = modelFileOverride ?? parsed.data.file;
  const modelPath = isAbsolute(file) ? file : resolve(dirname(resolve(manifestPath)), file);
  return { manifest: parsed.data, modelPath, manifestPath: resolve(manifestPath) };
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function verifyModelFile(loaded: LoadedManifest): Promise<void> {
  let actual: string;
  try {
    actual = await sha256OfFile(loaded.modelPath);
  } catch (error) {
    throw new ManifestError(`model file ${loaded.modelPath} is not readable: ${(error as Error).message}`);
  }
  if (actual !== loaded.manifest.sha256) {
    throw new ManifestError(
      `model file ${loaded.modelPath} has sha256 ${actual}, the manifest ${loaded.manifestPath} expects ${loaded.manifest.sha256}`,
    );
  }
}
