/** Runs an ONNX image encoder described by a manifest, in batches. */
import ort from 'onnxruntime-node';
import { type LoadedManifest, type ModelManifest, verifyModelFile } from './manifest.ts';
import { type Rgb, toTensor } from './pixels.ts';

export interface EncoderOptions {
  /** onnxruntime intra-op threads; the 2-core default leaves room for decoding. */
  threads?: number;
  /** Skip the checksum (benchmarks that load the same file many times). */
  skipVerify?: boolean;
}

export class ImageEncoder {
  private constructor(
    readonly manifest: ModelManifest,
    private readonly session: ort.InferenceSession,
  ) {}

  static async load(loaded: LoadedManifest, options: EncoderOptions = {}): Promise<ImageEncoder> {
    if (!options.skipVerify) await verifyModelFile(loaded);
    const session = await ort.InferenceSession.create(loaded.modelPath, {
      intraOpNumThreads: options.threads ?? 2,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
    const { input, output } = loaded.manifest;
    if (!session.inputNames.includes(input.name)) {
      throw new Error(`model has no input ${input.name} (it has ${session.inputNames.join(', ')})`);
    }
    if (!session.outputNames.includes(output.name)) {
      throw new Error(`model has no output ${output.name} (it has ${session.outputNames.join(', ')})`);
    }
    return new ImageEncoder(loaded.manifest, session);
  }

  /** Raw output vectors, one per image, in order. Images must be input.width × input.height. */
  async embed(images: readonly Rgb[]): Promise<Float32Array[]> {
    const { input, output, maxBatch } = this.manifest;
    const vectors: Float32Array[] = [];
    for (let start = 0; start < images.length; start += maxBatch) {
      const batch = images.slice(start, start + maxBatch);
      const dims =
        input.layout === 'NCHW'
          ? [batch.length, 3, input.height, input.width]
          : [batch.length, input.height, input.width, 3];
      const feeds = { [input.name]: new ort.Tensor('float32', toTensor(batch, input), dims) };
      const result = await this.session.run(feeds, [output.name]);
      const data = result[output.name]!.data as Float32Array;
      const dim = data.length / batch.length;
      if (dim !== output.dimension) {
        throw new Error(
          `model output ${output.name} has ${dim} values per image, the manifest says ${output.dimension}`,
        );
      }
      for (let i = 0; i < batch.length; i++) vectors.push(data.slice(i * dim, (i + 1) * dim));
    }
    return vectors;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
