/**
 * Small real ONNX models built at test time (nothing committed): a minimal, hand-written
 * description of the part of the ONNX protobuf schema a single-graph model needs (ModelProto,
 * GraphProto, NodeProto, AttributeProto, ValueInfoProto, TypeProto.Tensor, TensorShapeProto,
 * TensorProto for initializers, OperatorSetIdProto), declared with protobufjs's reflection API and
 * with the field numbers of the public ONNX spec, plus a few image "encoders" whose outputs make
 * the preprocessing observable (channel means, the input itself, a coarse spatial grid).
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { ModelManifest } from '../../shared/vision/manifest.ts';

const { Field, Root, Type } = protobuf;

/** onnx.TensorProto.DataType values used here. */
const DATA_TYPE = { float32: 1, int64: 7 } as const;
/** onnx.AttributeProto.AttributeType values used here. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

function message(name: string, fields: ReadonlyArray<[string, number, string, 'repeated'?]>) {
  const type = new Type(name);
  for (const [field, id, valueType, rule] of fields) type.add(new Field(field, id, valueType, rule));
  return type;
}

const root = new Root().add(
  message('OperatorSetIdProto', [
    ['domain', 1, 'string'],
    ['version', 2, 'int64'],
  ]),
);
root.add(
  message('TensorProto', [
    ['dims', 1, 'int64', 'repeated'],
    ['dataType', 2, 'int32'],
    ['floatData', 4, 'float', 'repeated'],
    ['int64Data', 7, 'int64', 'repeated'],
    ['name', 8, 'string'],
  ]),
);
root.add(
  message('AttributeProto', [
    ['name', 1, 'string'],
    ['f', 2, 'float'],
    ['i', 3, 'int64'],
    ['s', 4, 'bytes'],
    ['floats', 7, 'float', 'repeated'],
    ['ints', 8, 'int64', 'repeated'],
    ['type', 20, 'int32'],
  ]),
);
root.add(
  message('NodeProto', [
    ['input', 1, 'string', 'repeated'],
    ['output', 2, 'string', 'repeated'],
    ['name', 3, 'string'],
    ['opType', 4, 'string'],
    ['attribute', 5, 'AttributeProto', 'repeated'],
    ['domain', 7, 'string'],
  ]),
);
// TensorShapeProto.Dimension: dim_value and dim_param are a oneof; exactly one is set per dimension.
root.add(
  message('Dimension', [
    ['dimValue', 1, 'int64'],
    ['dimParam', 2, 'string'],
  ]),
);
root.add(message('TensorShapeProto', [['dim', 1, 'Dimension', 'repeated']]));
root.add(
  message('TensorTypeProto', [
    ['elemType', 1, 'int32'],
    ['shape', 2, 'TensorShapeProto'],
  ]),
);
// TypeProto: only the tensor_type member of its oneof.
root.add(message('TypeProto', [['tensorType', 1, 'TensorTypeProto']]));
root.add(
  message('ValueInfoProto', [
    ['name', 1, 'string'],
    ['type', 2, 'TypeProto'],
  ]),
);
root.add(
  message('GraphProto', [
    ['node', 1, 'NodeProto', 'repeated'],
    ['name', 2, 'string'],
    ['initializer', 5, 'TensorProto', 'repeated'],
    ['input', 11, 'ValueInfoProto', 'repeated'],
    ['output', 12, 'ValueInfoProto', 'repeated'],
  ]),
);
root.add(
  message('ModelProto', [
    ['irVersion', 1, 'int64'],
    ['producerName', 2, 'string'],
    ['graph', 7, 'GraphProto'],
    ['opsetImport', 8, 'OperatorSetIdProto', 'repeated'],
  ]),
);
const ModelProto = root.lookupType('ModelProto');

/** A dimension: a fixed size, or a symbolic name (dynamic, e.g. the batch `N`). */
export type Dim = number | string;
export type ElementType = keyof typeof DATA_TYPE;

export interface ValueSpec {
  name: string;
  shape: readonly Dim[];
  type?: ElementType;
}

export type AttributeValue =
  | { int: number }
  | { ints: readonly number[] }
  | { float: number }
  | { floats: readonly number[] }
  | { string: string };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Record<string, AttributeValue>;
}

export interface InitializerSpec {
  name: string;
  type: ElementType;
  dims: readonly number[];
  values: readonly number[];
}

export interface GraphSpec {
  /** Version of the default (ai.onnx) operator set. */
  opset: number;
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  nodes: readonly NodeSpec[];
  initializers?: readonly InitializerSpec[];
}

/** IR version 9 (ONNX 1.14) covers opsets up to 19; onnxruntime-node 1.30 reads it. */
const IR_VERSION = 9;

function attribute(name: string, value: AttributeValue) {
  if ('int' in value) return { name, type: ATTRIBUTE_TYPE.int, i: value.int };
  if ('ints' in value) return { name, type: ATTRIBUTE_TYPE.ints, ints: [...value.ints] };
  if ('float' in value) return { name, type: ATTRIBUTE_TYPE.float, f: value.float };
  if ('floats' in value) return { name, type: ATTRIBUTE_TYPE.floats, floats: [...value.floats] };
  return { name, type: ATTRIBUTE_TYPE.string, s: Buffer.from(value.string, 'utf8') };
}

function valueInfo({ name, shape, type = 'float32' }: ValueSpec) {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** The serialised ModelProto of a one-graph model. */
export function encodeModel(spec: GraphSpec): Uint8Array {
  const model = {
    irVersion: IR_VERSION,
    producerName: 'trend-radar-tests',
    opsetImport: [{ domain: '', version: spec.opset }],
    graph: {
      name: 'test-encoder',
      node: spec.nodes.map((node, i) => ({
        name: `${node.op.toLowerCase()}_${i}`,
        opType: node.op,
        domain: '',
        input: [...node.inputs],
        output: [...node.outputs],
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attribute(name, value)),
      })),
      initializer: (spec.initializers ?? []).map((t) => ({
        name: t.name,
        dataType: DATA_TYPE[t.type],
        dims: [...t.dims],
        ...(t.type === 'float32' ? { floatData: [...t.values] } : { int64Data: [...t.values] }),
      })),
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
  };
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`invalid test model: ${problem}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** The model read back (plain object, int64 as numbers): lets a test check what was encoded. */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false });
}

// ---------------------------------------------------------------------------------------------
// Image encoders that expose their input.

export type Layout = 'NCHW' | 'NHWC';

export interface ProbeOptions {
  layout: Layout;
  /** Input height = width, in pixels. */
  size: number;
  inputName?: string;
  outputName?: string;
  opset?: number;
}

export interface ProbeModel {
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
  /** Values per image of the output. */
  dimension: number;
}

const imageInput = (name: string, layout: Layout, size: number): ValueSpec => ({
  name,
  shape: layout === 'NCHW' ? ['N', 3, size, size] : ['N', size, size, 3],
});

/**
 * ReduceMean over the two spatial axes: `[N,3]`, the mean of every tensor channel, in the tensor's
 * channel order. Opset 18 moved ReduceMean's `axes` from an attribute to an (int64) input; both
 * forms are built here, by `opset`.
 */
export function channelMeanModel(options: ProbeOptions): ProbeModel {
  const { layout, size, inputName = 'pixel_values', outputName = 'image_embeds', opset = 17 } = options;
  const axes = layout === 'NCHW' ? [2, 3] : [1, 2];
  const byInput = opset >= 18;
  const bytes = encodeModel({
    opset,
    inputs: [imageInput(inputName, layout, size)],
    outputs: [{ name: outputName, shape: ['N', 3] }],
    initializers: byInput ? [{ name: 'axes', type: 'int64', dims: [2], values: axes }] : [],
    nodes: [
      {
        op: 'ReduceMean',
        inputs: byInput ? [inputName, 'axes'] : [inputName],
        outputs: ['means'],
        attributes: byInput ? { keepdims: { int: 1 } } : { axes: { ints: axes }, keepdims: { int: 1 } },
      },
      { op: 'Flatten', inputs: ['means'], outputs: [outputName], attributes: { axis: { int: 1 } } },
    ],
  });
  return { bytes, inputName, outputName, dimension: 3 };
}

/** Flatten of the input: the output is the input tensor itself, `[N, 3·size·size]`, in its layout. */
export function identityModel(options: ProbeOptions): ProbeModel {
  const { layout, size, inputName = 'pixel_values', outputName = 'image_embeds', opset = 17 } = options;
  const bytes = encodeModel({
    opset,
    inputs: [imageInput(inputName, layout, size)],
    outputs: [{ name: outputName, shape: ['N', 3 * size * size] }],
    nodes: [{ op: 'Flatten', inputs: [inputName], outputs: [outputName], attributes: { axis: { int: 1 } } }],
  });
  return { bytes, inputName, outputName, dimension: 3 * size * size };
}

/**
 * A "tiny image" encoder: average pooling into a `grid`×`grid` raster of the (normalised) input,
 * flattened channel-major, `[N, 3·grid·grid]`. It sees shape as well as colour, so products of one
 * colour but different shapes get different embeddings. NHWC inputs are transposed to NCHW first
 * (AveragePool works on NCHW).
 */
export function gridModel(options: ProbeOptions & { grid: number }): ProbeModel {
  const { layout, size, grid, inputName = 'pixel_values', outputName = 'image_embeds', opset = 17 } = options;
  if (size % grid !== 0) throw new Error(`size ${size} is not a multiple of grid ${grid}`);
  const cell = size / grid;
  const nodes: NodeSpec[] = [];
  let planar = inputName;
  if (layout === 'NHWC') {
    nodes.push({
      op: 'Transpose',
      inputs: [inputName],
      outputs: ['planar'],
      attributes: { perm: { ints: [0, 3, 1, 2] } },
    });
    planar = 'planar';
  }
  nodes.push(
    {
      op: 'AveragePool',
      inputs: [planar],
      outputs: ['pooled'],
      attributes: { kernel_shape: { ints: [cell, cell] }, strides: { ints: [cell, cell] } },
    },
    { op: 'Flatten', inputs: ['pooled'], outputs: [outputName], attributes: { axis: { int: 1 } } },
  );
  const bytes = encodeModel({
    opset,
    inputs: [imageInput(inputName, layout, size)],
    outputs: [{ name: outputName, shape: ['N', 3 * grid * grid] }],
    nodes,
  });
  return { bytes, inputName, outputName, dimension: 3 * grid * grid };
}

/**
 * Fine detail against brightness: `[N,2]` = [mean absolute difference between horizontally
 * adjacent values, mean value], over all channels (Slice, Sub, Abs, ReduceMean, Concat). An image
 * of 1-px columns alternating 0 and 255, fed unchanged at 0..1, gives exactly [1, 0.5]; resampling
 * on the way blurs the columns: the first value drops, the second stays about 0.5. Two values, so
 * their ratio survives the descriptor's L2 normalisation.
 */
export function sharpnessModel(options: ProbeOptions): ProbeModel {
  const { layout, size, inputName = 'pixel_values', outputName = 'image_embeds', opset = 17 } = options;
  const widthAxis = layout === 'NCHW' ? 3 : 2;
  const all = [1, 2, 3];
  const byInput = opset >= 18;
  const int64 = (name: string, values: number[]): InitializerSpec => ({
    name,
    type: 'int64',
    dims: [values.length],
    values,
  });
  const mean = (input: string, output: string): NodeSpec => ({
    op: 'ReduceMean',
    inputs: byInput ? [input, 'axes'] : [input],
    outputs: [output],
    attributes: byInput ? { keepdims: { int: 1 } } : { axes: { ints: all }, keepdims: { int: 1 } },
  });
  const bytes = encodeModel({
    opset,
    inputs: [imageInput(inputName, layout, size)],
    outputs: [{ name: outputName, shape: ['N', 2] }],
    initializers: [
      int64('one', [1]),
      int64('zero', [0]),
      int64('last', [size - 1]),
      int64('end', [size]),
      int64('width_axis', [widthAxis]),
      ...(byInput ? [int64('axes', all)] : []),
    ],
    nodes: [
      { op: 'Slice', inputs: [inputName, 'one', 'end', 'width_axis'], outputs: ['right'] },
      { op: 'Slice', inputs: [inputName, 'zero', 'last', 'width_axis'], outputs: ['left'] },
      { op: 'Sub', inputs: ['right', 'left'], outputs: ['step'] },
      { op: 'Abs', inputs: ['step'], outputs: ['change'] },
      mean('change', 'sharpness'),
      mean(inputName, 'brightness'),
      {
        op: 'Concat',
        inputs: ['sharpness', 'brightness'],
        outputs: ['both'],
        attributes: { axis: { int: 1 } },
      },
      { op: 'Flatten', inputs: ['both'], outputs: [outputName], attributes: { axis: { int: 1 } } },
    ],
  });
  return { bytes, inputName, outputName, dimension: 2 };
}

export type ManifestInput = Omit<ModelManifest['input'], 'name'>;

export interface EncoderFiles {
  manifestPath: string;
  modelPath: string;
  manifest: ModelManifest;
}

/**
 * Writes `model` and a manifest for it into `dir` (`<id>.onnx`, `<id>.manifest.json`, the file
 * relative to the manifest, its sha256 computed), as `models pull` would leave them.
 */
export async function writeEncoder(
  dir: string,
  id: string,
  model: ProbeModel,
  input: ManifestInput,
  output: { l2Normalize: boolean; nonNegative: boolean },
  maxBatch = 16,
): Promise<EncoderFiles> {
  const modelPath = join(dir, `${id}.onnx`);
  const manifestPath = join(dir, `${id}.manifest.json`);
  await writeFile(modelPath, model.bytes);
  const manifest: ModelManifest = {
    id,
    description: 'built at test time by test/support/onnx-model.ts',
    file: `${id}.onnx`,
    sha256: createHash('sha256').update(model.bytes).digest('hex'),
    input: { name: model.inputName, ...input },
    output: { name: model.outputName, dimension: model.dimension, ...output },
    maxBatch,
  };
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
  return { manifestPath, modelPath, manifest };
}
