/**
 * Bytes in, descriptors out, for many images at once: decoding runs on sharp's thread pool for the
 * whole batch while earlier batches are in inference, then one batched ONNX run. A bad image yields
 * an ImageRejectedError in its slot and never fails its neighbours.
 */
import { DEFAULT_DECODE, type DecodeOptions, decodeImage } from './decode.ts';
import { combineDescriptor, DESCRIPTOR_ID, type PreparedImage, prepareImage } from './descriptor.ts';
import type { ImageEncoder } from './encoder.ts';

export type DescribeResult = { ok: true; vector: Float32Array } | { ok: false; error: Error };

export class ImageDescriber {
  readonly descriptorId = DESCRIPTOR_ID;

  constructor(
    readonly encoder: ImageEncoder,
    private readonly decodeOptions: DecodeOptions = DEFAULT_DECODE,
  ) {}

  get modelId(): string {
    return this.encoder.manifest.id;
  }

  /** Decodes and prepares (CPU, thread pool); the returned promise can be awaited later. */
  async prepare(bytes: Buffer): Promise<PreparedImage> {
    const image = await decodeImage(bytes, this.decodeOptions);
    return prepareImage(image, this.encoder.manifest);
  }

  async describePrepared(prepared: readonly (PreparedImage | Error)[]): Promise<DescribeResult[]> {
    const good = prepared.filter((p): p is PreparedImage => !(p instanceof Error));
    const embeddings = good.length > 0 ? await this.encoder.embed(good.map((p) => p.crop)) : [];
    let next = 0;
    return prepared.map((p) => {
      if (p instanceof Error) return { ok: false, error: p };
      const embedding = embeddings[next++]!;
      return { ok: true, vector: combineDescriptor(embedding, p.colour, this.encoder.manifest) };
    });
  }

  async describe(images: readonly Buffer[]): Promise<DescribeResult[]> {
    const prepared = await Promise.all(
      images.map((bytes) => this.prepare(bytes).catch((error: unknown) => toError(error))),
    );
    return this.describePrepared(prepared);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
