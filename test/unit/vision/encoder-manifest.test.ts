/**
 * A manifest that does not fit its model is refused when the model is loaded (in process and by
 * the worker pool), with the manifest field and the model's actual value in the message, instead
 * of a worker that reports ready and then fails every image. Uses the real model from ../shared.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DescriberPool } from '../../../shared/vision/describer-pool.ts';
import { ImageEncoder } from '../../../shared/vision/encoder.ts';
import {
  loadManifest,
  ManifestError,
  type ModelManifest,
  ModelMismatchError,
} from '../../../shared/vision/manifest.ts';

const manifestPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../models/squeezenet1.1.manifest.json',
);

let dir: string;
let good: ModelManifest;

/** The real manifest, `file` made absolute, with `change` applied; written to the temp folder. */
async function variant(name: string, change: (m: ModelManifest) => void): Promise<string> {
  const manifest = structuredClone(good) as ModelManifest;
  change(manifest);
  const path = join(dir, `${name}.manifest.json`);
  await writeFile(path, JSON.stringify(manifest));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'encoder-manifest-'));
  const loaded = await loadManifest(manifestPath);
  good = { ...JSON.parse(await readFile(manifestPath, 'utf8')), file: loaded.modelPath };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const load = async (path: string) => ImageEncoder.load(await loadManifest(path), { threads: 1 });

describe('ImageEncoder.load checks the model against its manifest', () => {
  it('loads the real manifest and embeds a batch', async () => {
    const encoder = await load(manifestPath);
    try {
      const blank = { data: new Uint8Array(224 * 224 * 3), width: 224, height: 224 };
      const vectors = await encoder.embed([blank, blank, blank]);
      expect(vectors.map((v) => v.length)).toEqual([512, 512, 512]);
    } finally {
      await encoder.close();
    }
  });

  it.each([
    [
      'size 256',
      (m: ModelManifest) => Object.assign(m.input, { width: 256, height: 256 }),
      /input\.height is 256, the model's input data_0 \[N,3,224,224\] has height 224; input\.width is 256.* has width 224/,
    ],
    [
      'NHWC',
      (m: ModelManifest) => (m.input.layout = 'NHWC'),
      /input\.layout is NHWC, the model's input data_0 \[N,3,224,224\] has 224 at the channel position \(index 3\), not 3 \(the model is NCHW\)/,
    ],
    [
      'dimension 1024',
      (m: ModelManifest) => (m.output.dimension = 1024),
      /output\.dimension is 1024, the model's output embedding \[N,512\] has 512 values per image/,
    ],
    [
      'another output',
      (m: ModelManifest) => Object.assign(m.output, { name: 'softmaxout_1' }),
      /output\.dimension is 512, the model's output softmaxout_1 \[N,1000,1,1\] has 1000 values per image/,
    ],
    [
      'a wrong input name',
      (m: ModelManifest) => (m.input.name = 'pixel_values'),
      /input\.name is pixel_values, the model's inputs are data_0/,
    ],
  ])('refuses a manifest with %s, naming the field and the model value', async (name, change, message) => {
    const path = await variant(name.replace(/\W+/g, '-'), change);
    const error = await load(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(path);
  });

  it('refuses a float16 model with a fixed batch of 1 when maxBatch is larger', async () => {
    const loaded = await loadManifest(manifestPath);
    const fp16 = join(dirname(loaded.modelPath), 'squeezenet1.1-fp16.onnx');
    const path = await variant('fp16', (m) => {
      m.file = fp16;
      m.output = { ...m.output, name: 'softmaxout_1', dimension: 1000 };
    });
    const error = await ImageEncoder.load(await loadManifest(path), { threads: 1, skipVerify: true }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as Error).message).toMatch(/input data_0 is float16, the encoder feeds float32/);
    expect((error as Error).message).toMatch(
      /maxBatch is 16, .* has a fixed batch of 1 .*or set maxBatch to 1/,
    );
    expect((error as Error).message).toMatch(/output softmaxout_1 is float16/);
  });

  it('refuses a non-square input in the manifest schema', async () => {
    const path = await variant('rect', (m) => (m.input.height = 200));
    await expect(loadManifest(path)).rejects.toThrow(ManifestError);
    await expect(loadManifest(path)).rejects.toThrow(/input\.height: the input must be square/);
  });

  it('makes the worker pool fail to start with the same error', async () => {
    const path = await variant('pool-size256', (m) => Object.assign(m.input, { width: 256, height: 256 }));
    const error = await DescriberPool.start({ manifestPath: path, size: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as Error).message).toMatch(/input\.height is 256/);
  });

  it('falls back on the warm-up inference when onnxruntime gives no metadata', async () => {
    const probe = await ort.InferenceSession.create((await loadManifest(manifestPath)).modelPath);
    const proto = Object.getPrototypeOf(probe) as object;
    await probe.release();
    const unavailable = () => {
      throw new Error('not supported');
    };
    const spies = [
      vi.spyOn(proto as ort.InferenceSession, 'inputMetadata', 'get').mockImplementation(unavailable),
      vi.spyOn(proto as ort.InferenceSession, 'outputMetadata', 'get').mockImplementation(unavailable),
    ];
    try {
      const dim = await variant('warm-dim', (m) => (m.output.dimension = 1024));
      await expect(load(dim)).rejects.toThrow(
        /output\.dimension is 1024, the model's output embedding has 512 values per image/,
      );
      const size = await variant('warm-size', (m) => Object.assign(m.input, { width: 256, height: 256 }));
      await expect(load(size)).rejects.toThrow(
        /an inference on a blank \[2,3,H,W\] batch \(H = input\.height 256, W = input\.width 256\) failed/,
      );
      const encoder = await load(manifestPath);
      await encoder.close();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
