/** Runs an ONNX image encoder described by a manifest, in batches. */
import ort from 'onnxruntime-node';
import { type LoadedManifest, type ModelManifest, ModelMismatchError, verifyModelFile } from './manifest.ts';
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

  /**
   * Loads the model and checks it against its manifest (names, element types, layout, size, batch
   * dimension, output dimension, then one inference on a blank batch), so a manifest that does not
   * fit its model stops the service at start instead of failing every image later.
   */
  static async load(loaded: LoadedManifest, options: EncoderOptions = {}): Promise<ImageEncoder> {
    if (!options.skipVerify) await verifyModelFile(loaded);
    const session = await ort.InferenceSession.create(loaded.modelPath, {
      intraOpNumThreads: options.threads ?? 2,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
    const encoder = new ImageEncoder(loaded.manifest, session);
    try {
      const problems = metadataProblems(session, loaded.manifest);
      if (problems.length === 0) await encoder.warmUp();
      else throw new Error(problems.join('; '));
    } catch (error) {
      await session.release();
      throw new ModelMismatchError(
        `model ${loaded.modelPath} does not fit its manifest ${loaded.manifestPath}: ${(error as Error).message}`,
      );
    }
    return encoder;
  }

  /** Raw output vectors, one per image, in order. Images must be input.width × input.height. */
  async embed(images: readonly Rgb[]): Promise<Float32Array[]> {
    const { input, maxBatch } = this.manifest;
    const vectors: Float32Array[] = [];
    for (let start = 0; start < images.length; start += maxBatch) {
      const batch = images.slice(start, start + maxBatch);
      vectors.push(...(await this.run(toTensor(batch, input), batch.length)));
    }
    return vectors;
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  private async run(tensor: Float32Array, count: number): Promise<Float32Array[]> {
    const { input, output } = this.manifest;
    const dims =
      input.layout === 'NCHW' ? [count, 3, input.height, input.width] : [count, input.height, input.width, 3];
    const result = await this.session.run({ [input.name]: new ort.Tensor('float32', tensor, dims) }, [
      output.name,
    ]);
    const value = result[output.name]!;
    if (value.type !== 'float32') {
      throw new ModelMismatchError(`model output ${output.name} is ${value.type}, the encoder reads float32`);
    }
    const data = value.data as Float32Array;
    const dim = data.length / count;
    if (dim !== output.dimension) {
      throw new ModelMismatchError(
        `output.dimension is ${output.dimension}, the model's output ${output.name} has ${dim} values per image`,
      );
    }
    const vectors: Float32Array[] = [];
    for (let i = 0; i < count; i++) vectors.push(data.slice(i * dim, (i + 1) * dim));
    return vectors;
  }

  /** One inference on a blank batch (two images when batches may hold two: the batch dimension must vary). */
  private async warmUp(): Promise<void> {
    const { input, maxBatch } = this.manifest;
    const count = Math.min(2, maxBatch);
    try {
      await this.run(new Float32Array(count * 3 * input.width * input.height), count);
    } catch (error) {
      if (error instanceof ModelMismatchError) throw error;
      const shape = input.layout === 'NCHW' ? `[${count},3,H,W]` : `[${count},H,W,3]`;
      throw new Error(
        `an inference on a blank ${shape} batch (H = input.height ${input.height}, W = input.width ${input.width}) failed: ${(error as Error).message}`,
      );
    }
  }
}

type Shape = ReadonlyArray<number | string>;

const describeShape = (shape: Shape) => `[${shape.join(',')}]`;

/** Metadata of a model input or output, or undefined when this onnxruntime does not expose it. */
function metadataOf(
  session: ort.InferenceSession,
  kind: 'input' | 'output',
  name: string,
): ort.InferenceSession.ValueMetadata | undefined {
  try {
    const list = kind === 'input' ? session.inputMetadata : session.outputMetadata;
    return list?.find((m) => m.name === name);
  } catch {
    return undefined;
  }
}

/**
 * What the session's declared inputs and outputs contradict in the manifest, each naming the
 * manifest field and the model's value. Symbolic dimensions (strings) and missing metadata are
 * left to the warm-up inference.
 */
export function metadataProblems(session: ort.InferenceSession, manifest: ModelManifest): string[] {
  const { input, output, maxBatch } = manifest;
  const problems: string[] = [];
  if (!session.inputNames.includes(input.name)) {
    problems.push(`input.name is ${input.name}, the model's inputs are ${session.inputNames.join(', ')}`);
  }
  if (!session.outputNames.includes(output.name)) {
    problems.push(`output.name is ${output.name}, the model's outputs are ${session.outputNames.join(', ')}`);
  }
  if (problems.length > 0) return problems;

  const inMeta = metadataOf(session, 'input', input.name);
  if (inMeta && !inMeta.isTensor) problems.push(`the model's input ${input.name} is not a tensor`);
  if (inMeta?.isTensor) {
    const shape = inMeta.shape;
    const where = `the model's input ${input.name} ${describeShape(shape)}`;
    if (inMeta.type !== 'float32') {
      problems.push(`the model's input ${input.name} is ${inMeta.type}, the encoder feeds float32`);
    }
    if (shape.length > 0 && shape.length !== 4) {
      problems.push(`input.layout ${input.layout} needs a rank-4 input, ${where} has rank ${shape.length}`);
    } else if (shape.length === 4) {
      const [channel, h, w] = input.layout === 'NCHW' ? [1, 2, 3] : [3, 1, 2];
      const fixed = (i: number) => (typeof shape[i] === 'number' ? (shape[i] as number) : undefined);
      if (fixed(channel) !== undefined && fixed(channel) !== 3) {
        const other = input.layout === 'NCHW' ? 'NHWC' : 'NCHW';
        const hint = fixed(input.layout === 'NCHW' ? 3 : 1) === 3 ? ` (the model is ${other})` : '';
        problems.push(
          `input.layout is ${input.layout}, ${where} has ${fixed(channel)} at the channel position (index ${channel}), not 3${hint}`,
        );
      } else {
        if (fixed(h) !== undefined && fixed(h) !== input.height)
          problems.push(`input.height is ${input.height}, ${where} has height ${fixed(h)}`);
        if (fixed(w) !== undefined && fixed(w) !== input.width)
          problems.push(`input.width is ${input.width}, ${where} has width ${fixed(w)}`);
      }
      const batch = fixed(0);
      if (batch !== undefined && !(batch === 1 && maxBatch === 1)) {
        problems.push(
          `maxBatch is ${maxBatch}, ${where} has a fixed batch of ${batch} (export it with a dynamic batch dimension${batch === 1 ? ', or set maxBatch to 1' : ''})`,
        );
      }
    }
  }

  const outMeta = metadataOf(session, 'output', output.name);
  if (outMeta && !outMeta.isTensor) problems.push(`the model's output ${output.name} is not a tensor`);
  if (outMeta?.isTensor) {
    if (outMeta.type !== 'float32') {
      problems.push(`the model's output ${output.name} is ${outMeta.type}, the encoder reads float32`);
    }
    // Values per image: the product of the dimensions after the batch, when all are known.
    const rest = outMeta.shape.slice(1);
    if (outMeta.shape.length >= 2 && rest.every((d) => typeof d === 'number')) {
      const perImage = (rest as number[]).reduce((a, b) => a * b, 1);
      if (perImage !== output.dimension) {
        problems.push(
          `output.dimension is ${output.dimension}, the model's output ${output.name} ${describeShape(outMeta.shape)} has ${perImage} values per image`,
        );
      }
    }
  }
  return problems;
}
