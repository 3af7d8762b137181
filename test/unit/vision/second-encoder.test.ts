/**
 * Encoders other than SqueezeNet are fed as their manifest says. Small real ONNX models are built at
 * test time (test/support/onnx-model.ts) whose output exposes what the encoder fed them: the mean
 * of each input channel, or the input tensor itself. Solid and gradient images then go through
 * ImageEncoder with manifests of every shape the schema allows (NHWC and NCHW, RGB and BGR, 0..1
 * and 0..255, per-channel mean and std, several input sizes and output dimensions), and the output
 * is compared with the value computed by hand from the manifest contract (models/README.md):
 *   tensor channel k = (pixel[channel k of channelOrder] × scale − mean[k]) / std[k].
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourDimension } from '../../../shared/vision/colour.ts';
import { combineDescriptor, descriptorDimension } from '../../../shared/vision/descriptor.ts';
import { ImageEncoder } from '../../../shared/vision/encoder.ts';
import { loadManifest, type ModelManifest, ModelMismatchError } from '../../../shared/vision/manifest.ts';
import type { Rgb } from '../../../shared/vision/pixels.ts';
import {
  channelMeanModel,
  decodeModel,
  type EncoderFiles,
  identityModel,
  type Layout,
  type ManifestInput,
  type ProbeModel,
  writeEncoder,
} from '../../support/onnx-model.ts';

const CLIP = {
  mean: [0.48145466, 0.4578275, 0.40821073] as [number, number, number],
  std: [0.26862954, 0.26130258, 0.27577711] as [number, number, number],
};
const IMAGENET = {
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
};
const INV255 = 1 / 255;

type Pixel = readonly [number, number, number];
const RED: Pixel = [255, 0, 0];
const GREY: Pixel = [128, 128, 128];
const ORANGE: Pixel = [230, 120, 40];

function solid(size: number, [r, g, b]: Pixel): Rgb {
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i += 3) data.set([r, g, b], i);
  return { data, width: size, height: size };
}

/** Every pixel different, and no symmetry: a transposed, mirrored or interleaved tensor shows. */
function gradient(size: number): Rgb {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      data[i] = Math.round((x * 255) / (size - 1));
      data[i + 1] = Math.round((y * 255) / (size - 1));
      data[i + 2] = (37 * x + 11 * y + 5) % 256;
    }
  }
  return { data, width: size, height: size };
}

// ------------------------------------------------------------------------------------------------
// The manifest contract, written out plainly (independently of shared/vision/pixels.ts).

/** Tensor channel k for a pixel given as R, G, B. */
function contractValue(input: ManifestInput, [r, g, b]: Pixel, k: number): number {
  const rgb = [r, g, b];
  const source = input.channelOrder === 'RGB' ? rgb[k]! : rgb[2 - k]!;
  return (source * input.scale - input.mean[k]!) / input.std[k]!;
}

/** The whole input tensor of one image, in the manifest's layout. */
function contractTensor(input: ManifestInput, image: Rgb): number[] {
  const { width: W, height: H } = input;
  const out = new Array<number>(3 * W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      const pixel: Pixel = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
      for (let k = 0; k < 3; k++) {
        const at = input.layout === 'NCHW' ? k * H * W + y * W + x : (y * W + x) * 3 + k;
        out[at] = contractValue(input, pixel, k);
      }
    }
  }
  return out;
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/**
 * Equal up to float32 arithmetic (ReduceMean sums a thousand float32 values: ~1e-5 relative);
 * every mistake these tests look for is off by far more.
 */
function expectClose(actual: ArrayLike<number>, expected: readonly number[], label: string) {
  expect(actual.length, label).toBe(expected.length);
  const worst = expected.reduce(
    (w, e, i) => Math.max(w, Math.abs(actual[i]! - e) / Math.max(1, Math.abs(e))),
    0,
  );
  expect(worst, `${label}: ${Array.from(actual).slice(0, 6)} vs ${expected.slice(0, 6)}`).toBeLessThan(1e-4);
}

// ------------------------------------------------------------------------------------------------

let dir: string;
const encoders: ImageEncoder[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'second-encoder-'));
});

afterAll(async () => {
  await Promise.all(encoders.map((e) => e.close()));
  await rm(dir, { recursive: true, force: true });
});

async function encoderFor(
  id: string,
  model: ProbeModel,
  input: ManifestInput,
  output = { l2Normalize: true, nonNegative: false },
  maxBatch = 16,
): Promise<{ encoder: ImageEncoder; files: EncoderFiles }> {
  const files = await writeEncoder(dir, id, model, input, output, maxBatch);
  // Through loadManifest, as a service does: the schema validates it, the checksum is verified.
  const encoder = await ImageEncoder.load(await loadManifest(files.manifestPath), { threads: 1 });
  encoders.push(encoder);
  return { encoder, files };
}

describe('the test models (test/support/onnx-model.ts)', () => {
  it('encodes a ModelProto that reads back with the fields it was given', () => {
    const model = channelMeanModel({ layout: 'NHWC', size: 32, opset: 18 });
    const read = decodeModel(model.bytes) as {
      irVersion: number;
      opsetImport: { domain?: string; version: number }[];
      graph: {
        node: { opType: string; input: string[]; output: string[] }[];
        initializer: { name: string; dataType: number; dims: number[]; int64Data: number[] }[];
        input: { name: string; type: { tensorType: { elemType: number; shape: { dim: object[] } } } }[];
        output: { name: string }[];
      };
    };
    expect(read.opsetImport).toEqual([{ domain: '', version: 18 }]);
    expect(read.graph.node.map((n) => n.opType)).toEqual(['ReduceMean', 'Flatten']);
    // Opset 18 takes ReduceMean's axes as an int64 input (they were an attribute up to opset 17).
    expect(read.graph.node[0]!.input).toEqual(['pixel_values', 'axes']);
    expect(read.graph.initializer).toEqual([{ name: 'axes', dataType: 7, dims: [2], int64Data: [1, 2] }]);
    expect(read.graph.input[0]!.type.tensorType).toEqual({
      elemType: 1,
      shape: { dim: [{ dimParam: 'N' }, { dimValue: 32 }, { dimValue: 32 }, { dimValue: 3 }] },
    });
    expect(read.graph.output.map((o) => o.name)).toEqual(['image_embeds']);
  });

  it.each([
    ['NHWC', 17],
    ['NHWC', 18],
    ['NCHW', 17],
    ['NCHW', 18],
  ] as const)(
    'onnxruntime runs the %s channel-mean model of opset %i: the mean of each channel',
    async (layout, opset) => {
      const model = channelMeanModel({ layout, size: 4, opset });
      const session = await ort.InferenceSession.create(model.bytes);
      try {
        // Two images of 4×4 with channel values c·100 + image·10 + position (0..15).
        const data = new Float32Array(2 * 48);
        for (let n = 0; n < 2; n++)
          for (let p = 0; p < 16; p++)
            for (let c = 0; c < 3; c++) {
              const at = layout === 'NCHW' ? n * 48 + c * 16 + p : n * 48 + p * 3 + c;
              data[at] = c * 100 + n * 10 + p;
            }
        const dims = layout === 'NCHW' ? [2, 3, 4, 4] : [2, 4, 4, 3];
        const out = await session.run({ pixel_values: new ort.Tensor('float32', data, dims) });
        expect(out.image_embeds!.dims).toEqual([2, 3]);
        // Mean of 0..15 is 7.5.
        expect(Array.from(out.image_embeds!.data as Float32Array)).toEqual([
          7.5, 107.5, 207.5, 17.5, 117.5, 217.5,
        ]);
      } finally {
        await session.release();
      }
    },
  );
});

describe('ImageEncoder feeds a non-SqueezeNet model as its manifest says', () => {
  const cases: Array<{ id: string; layout: Layout; size: number; opset: number; input: ManifestInput }> = [
    {
      id: 'clip-nhwc-rgb',
      layout: 'NHWC',
      size: 32,
      opset: 17,
      input: { width: 32, height: 32, layout: 'NHWC', channelOrder: 'RGB', scale: INV255, ...CLIP },
    },
    {
      id: 'imagenet-nchw-rgb',
      layout: 'NCHW',
      size: 48,
      opset: 18,
      input: { width: 48, height: 48, layout: 'NCHW', channelOrder: 'RGB', scale: INV255, ...IMAGENET },
    },
    {
      // SqueezeNet's contract (BGR, 0..255, Caffe mean) on an NHWC model of another size.
      id: 'caffe-nhwc-bgr',
      layout: 'NHWC',
      size: 16,
      opset: 18,
      input: {
        width: 16,
        height: 16,
        layout: 'NHWC',
        channelOrder: 'BGR',
        scale: 1,
        mean: [104, 117, 123],
        std: [1, 1, 1],
      },
    },
    {
      // Every parameter different per channel and scale ≠ 1: an order mix-up cannot cancel out.
      id: 'odd-nchw-bgr',
      layout: 'NCHW',
      size: 24,
      opset: 17,
      input: {
        width: 24,
        height: 24,
        layout: 'NCHW',
        channelOrder: 'BGR',
        scale: 0.5,
        mean: [10, 20, 30],
        std: [2, 4, 8],
      },
    },
  ];

  it.each(cases)('$id: each channel mean is (pixel × scale − mean) / std, in channelOrder', async (c) => {
    const { encoder } = await encoderFor(
      c.id,
      channelMeanModel({ layout: c.layout, size: c.size, opset: c.opset }),
      c.input,
    );
    const colours = [RED, GREY, ORANGE];
    const vectors = await encoder.embed(colours.map((p) => solid(c.size, p)));
    colours.forEach((pixel, i) => {
      const expected = [0, 1, 2].map((k) => contractValue(c.input, pixel, k));
      expectClose(vectors[i]!, expected, `${c.id} ${pixel}`);
    });
  });

  it('matches values worked out by hand for the CLIP and the Caffe contracts', async () => {
    // CLIP, RGB, 0..1: red → ((1 − 0.48145466)/0.26862954, (0 − 0.4578275)/0.26130258, (0 − 0.40821073)/0.27577711).
    const clip = await encoderFor(
      'clip-by-hand',
      channelMeanModel({ layout: 'NHWC', size: 32 }),
      cases[0]!.input,
    );
    const [red, grey] = await clip.encoder.embed([solid(32, RED), solid(32, GREY)]);
    expect(Array.from(red!).map((v) => Number(v.toFixed(4)))).toEqual([1.9303, -1.7521, -1.4802]);
    // grey 128 → (128/255 − mean) / std = (0.0763, 0.1689, 0.3399).
    expect(Array.from(grey!).map((v) => Number(v.toFixed(4)))).toEqual([0.0763, 0.1689, 0.3399]);

    // BGR, 0..255, mean (104, 117, 123): red (255, 0, 0) → B 0 − 104, G 0 − 117, R 255 − 123.
    const caffe = await encoderFor(
      'caffe-by-hand',
      channelMeanModel({ layout: 'NHWC', size: 16 }),
      cases[2]!.input,
    );
    const [bgrRed, bgrGrey] = await caffe.encoder.embed([solid(16, RED), solid(16, GREY)]);
    expect(Array.from(bgrRed!)).toEqual([-104, -117, 132]);
    expect(Array.from(bgrGrey!)).toEqual([24, 11, 5]);
  });

  it.each(cases)('$id: the whole tensor, pixel by pixel, is where the layout puts it', async (c) => {
    // 8 px keeps the identity model's output (3·8·8 = 192 values) small; a 5-image batch with a
    // maxBatch of 2 checks that batches are cut and reassembled in order.
    const size = 8;
    const input = { ...c.input, width: size, height: size };
    const { encoder } = await encoderFor(
      `${c.id}-identity`,
      identityModel({ layout: c.layout, size, opset: c.opset }),
      input,
      undefined,
      2,
    );
    const images = [gradient(size), solid(size, RED), solid(size, ORANGE), gradient(size), solid(size, GREY)];
    const vectors = await encoder.embed(images);
    expect(vectors.map((v) => v.length)).toEqual(images.map(() => 3 * size * size));
    images.forEach((image, i) => {
      expectClose(vectors[i]!, contractTensor(input, image), `${c.id} image ${i}`);
    });
  });

  it('returns the raw output (no L2 or power normalisation); the descriptor normalises it', async () => {
    const input = cases[0]!.input;
    const { encoder, files } = await encoderFor(
      'raw-output',
      channelMeanModel({ layout: 'NHWC', size: 32 }),
      input,
    );
    const [raw] = await encoder.embed([solid(32, RED)]);
    const expected = [0, 1, 2].map((k) => contractValue(input, RED, k));
    // Negative values kept, length not 1: what the model gave.
    expectClose(raw!, expected, 'raw');
    expect(norm(raw!)).not.toBeCloseTo(1, 2);

    // The descriptor: the embedding L2-normalised (signs kept: nonNegative is false), then the
    // colour histogram.
    const colour = new Float32Array(colourDimension()).fill(0);
    colour[7] = 1;
    const descriptor = combineDescriptor(raw!, colour, files.manifest);
    expect(descriptor.length).toBe(descriptorDimension(files.manifest));
    expect(descriptor.length).toBe(3 + colourDimension());
    const length = norm(expected);
    expectClose(
      descriptor.subarray(0, 3),
      expected.map((v) => v / length),
      'descriptor embedding part',
    );
    expect(Array.from(descriptor.subarray(3))).toEqual(Array.from(colour));

    // With nonNegative, the square root of the positive part (negatives clamped to 0), L2-normalised.
    const rooted = expected.map((v) => Math.sqrt(Math.max(0, v)));
    const nonNegative: ModelManifest = {
      ...files.manifest,
      output: { ...files.manifest.output, nonNegative: true },
    };
    expectClose(
      combineDescriptor(raw!, colour, nonNegative).subarray(0, 3),
      rooted.map((v) => v / norm(rooted)),
      'power-normalised',
    );
  });

  it('refuses a SqueezeNet-shaped manifest on this model, naming the field and the model value', async () => {
    const model = channelMeanModel({ layout: 'NHWC', size: 32 });
    const squeezenetLike: ManifestInput = {
      width: 224,
      height: 224,
      layout: 'NCHW',
      channelOrder: 'BGR',
      scale: 1,
      mean: [104, 117, 123],
      std: [1, 1, 1],
    };
    const files = await writeEncoder(dir, 'squeezenet-shaped', model, squeezenetLike, {
      l2Normalize: true,
      nonNegative: true,
    });
    await expect(ImageEncoder.load(await loadManifest(files.manifestPath), { threads: 1 })).rejects.toThrow(
      /input\.layout is NCHW, the model's input pixel_values \[N,32,32,3\] has 32 at the channel position \(index 1\), not 3 \(the model is NHWC\)/,
    );
    const wrongDimension = await writeEncoder(
      dir,
      'dimension-512',
      { ...model, dimension: 512 },
      cases[0]!.input,
      { l2Normalize: true, nonNegative: false },
    );
    const error = await ImageEncoder.load(await loadManifest(wrongDimension.manifestPath), {
      threads: 1,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as Error).message).toMatch(
      /output\.dimension is 512, the model's output image_embeds \[N,3\] has 3 values per image/,
    );
  });
});
