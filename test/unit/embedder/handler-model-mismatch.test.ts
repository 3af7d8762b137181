/**
 * A model that does not fit its manifest, found during inference, is not an image problem: the
 * handler neither dead-letters the uploads nor treats the failure as one more transient image
 * error; it asks the service to stop (`onModelMismatch`) and leaves the records uncommitted.
 */
import { describe, expect, it } from 'vitest';
import { embedderHandler } from '../../../services/embedder/handler.ts';
import { type Upload, Upload as UploadSchema } from '../../../shared/contracts/events.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import type { ImageFetcher } from '../../../shared/net/image-fetcher.ts';
import type { DescribeResult, Describer } from '../../../shared/vision/describer.ts';
import { type ModelManifest, ModelMismatchError } from '../../../shared/vision/manifest.ts';
import { blobUpload, handlerSettings, uploadsRecord } from './fixtures.ts';

const ref = `sha256:${'a'.repeat(64)}`;
const upload = (id: string): Upload => blobUpload(id, [ref]);

function handlerWith(describe: () => Promise<DescribeResult[]>) {
  const mismatches: Error[] = [];
  const describer: Describer = {
    modelId: 'm1',
    descriptorId: 'd1',
    manifest: { maxBatch: 4 } as ModelManifest,
    describe,
    close: async () => {},
  };
  const handler = embedderHandler({
    describer,
    sources: {
      blobs: { get: async () => Buffer.from('jpeg'), put: async () => ref, has: async () => true },
      fetcher: {} as ImageFetcher,
    },
    ...handlerSettings,
    onModelMismatch: (error) => mismatches.push(error),
  });
  const records = [
    uploadsRecord(encode(UploadSchema, upload('1')), 0),
    uploadsRecord(Buffer.from('{not an upload'), 1),
    uploadsRecord(encode(UploadSchema, upload('2')), 2),
  ];
  return {
    mismatches,
    run: () => handler(records, { heartbeat: async () => {}, attempt: 1, maxAttempts: 5 }),
  };
}

describe('embedder handler on a model/manifest mismatch during inference', () => {
  it('a failed batch: retry (not dead), the service is told, an unreadable record still goes dead', async () => {
    const error = new ModelMismatchError('output.dimension is 1024, the model has 512 values per image');
    const { mismatches, run } = handlerWith(async () => {
      throw error;
    });
    const outcomes = await run();
    expect(outcomes.map((o) => o.kind)).toEqual(['retry', 'dead', 'retry']);
    expect(mismatches).toEqual([error]);
  });

  it('a per-image mismatch is not counted as a transient image error either', async () => {
    const error = new ModelMismatchError('input.width 224 ≠ input.height 200');
    const { mismatches, run } = handlerWith(async () => [
      { ok: false, error },
      { ok: false, error },
    ]);
    const outcomes = await run();
    expect(outcomes.map((o) => o.kind)).toEqual(['retry', 'dead', 'retry']);
    expect(mismatches).toHaveLength(1);
  });
});
