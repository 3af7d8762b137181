/**
 * Bytes in, descriptors out, for many images at once. A bad image yields an ImageRejectedError in
 * its slot and never fails its neighbours.
 *
 * Two implementations: `ImageDescriber` does it on the calling thread (decoding on sharp's thread
 * pool, then one batched ONNX run, which onnxruntime-node runs synchronously on the caller's
 * thread): fine for the catalogue sync, a CLI or a test. `DescriberPool` (describer-pool.ts) does
 * the same on worker threads, for the embedding worker.
 */
import { DEFAULT_DECODE, type DecodeOptions, decodeFor, decodeImage } from './decode.ts';
import { combineDescriptor, DESCRIPTOR_ID, type PreparedImage, prepareImage } from './descriptor.ts';
import type { ImageEncoder } from './encoder.ts';
import type { ModelManifest } from './manifest.ts';

export type DescribeResult = { ok: true; vector: Float32Array } | { ok: false; error: Error };

export interface Describer {
  readonly modelId: string;
  readonly descriptorId: string;
  readonly manifest: ModelManifest;
  /** Model batches it works on at once (a caller keeps that many in flight); 1 when absent. */
  readonly parallelism?: number;
  /** One result per image, in order. */
  describe(images: readonly Buffer[]): Promise<DescribeResult[]>;
  close(): Promise<void>;
}

export class ImageDescriber implements Describer {
  readonly descriptorId = DESCRIPTOR_ID;
  private readonly decodeOptions: DecodeOptions;

  constructor(
    readonly encoder: ImageEncoder,
    decodeOptions: DecodeOptions = DEFAULT_DECODE,
  ) {
    // Decoded no smaller than the model's input needs (a larger encoder than SqueezeNet's 224 px
    // would otherwise see upscaled 320-px images); the worker pool builds its describers here too.
    this.decodeOptions = decodeFor(encoder.manifest.input.width, decodeOptions);
  }

  get modelId(): string {
    return this.encoder.manifest.id;
  }

  get manifest(): ModelManifest {
    return this.encoder.manifest;
  }

  close(): Promise<void> {
    return this.encoder.close();
  }

  /** Decodes (libuv's thread pool) and prepares; describePrepared runs the model on the results. */
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
