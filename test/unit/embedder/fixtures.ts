/** Uploads and the records that carry them, for the embedder handler's tests. */
import { catalogueChange, catalogueKey } from '../../../services/catalogue/catalogue-topic.ts';
import { CatalogueMemory } from '../../../services/embedder/catalogue-memory.ts';
import { embedderHandler } from '../../../services/embedder/handler.ts';
import { BlobNotFoundError } from '../../../shared/blobstore/blob-store.ts';
import {
  CatalogueEmbedding,
  type Mention,
  Mention as MentionSchema,
  type Upload,
  Upload as UploadSchema,
} from '../../../shared/contracts/events.ts';
import { decode, encode } from '../../../shared/kafka/codec.ts';
import type { InboundRecord } from '../../../shared/kafka/consumer-runner.ts';
import type { ImageFetcher } from '../../../shared/net/image-fetcher.ts';
import { CatalogueIndex } from '../../../shared/vision/catalogue-index.ts';
import { ImageRejectedError } from '../../../shared/vision/decode.ts';
import type { Describer } from '../../../shared/vision/describer.ts';
import type { ModelManifest } from '../../../shared/vision/manifest.ts';

/** An upload of stored blobs (`sha256:…` references). */
export const blobUpload = (id: string, blobRefs: string[]): Upload => ({
  eventId: `evt-${id}`,
  postId: `post-${id}`,
  memberId: 'member-1',
  images: blobRefs.map((blobRef) => ({ blobRef })),
  caption: '',
  hashtags: [],
  location: { country: 'GB', city: 'London' },
  clientTimestamp: '2026-11-20T10:00:00.000Z',
  receivedAt: '2026-11-20T10:00:01.000Z',
  source: 'test',
});

/** A record of the uploads topic holding `value` (the encoded upload, or bytes that are not one). */
export const uploadsRecord = (value: Buffer, offset: number, key: Buffer | null = null): InboundRecord =>
  ({
    topic: 'uploads',
    partition: 0,
    offset: String(offset),
    key,
    value,
    headers: {},
    timestamp: 0,
    message: { offset: String(offset), key, value, timestamp: '0' },
  }) as unknown as InboundRecord;

/** Blob references of the handlers' tests: a photo, one never stored, an empty file. */
export const BLOBS = {
  good: `sha256:${'a'.repeat(64)}`,
  missing: `sha256:${'b'.repeat(64)}`,
  empty: `sha256:${'c'.repeat(64)}`,
};

/** A store holding BLOBS.good (a photo) and BLOBS.empty (0 bytes); BLOBS.missing is not there yet. */
export const testImageSources = {
  blobs: {
    get: async (ref: string) => {
      if (ref === BLOBS.missing) throw new BlobNotFoundError(`blob ${ref} not found`);
      return ref === BLOBS.empty ? Buffer.alloc(0) : Buffer.from('jpeg');
    },
    put: async () => BLOBS.good,
    has: async () => true,
  },
  fetcher: {} as ImageFetcher,
};

/** A stand-in for the model: any non-empty bytes are a photo (one 4-d descriptor), empty ones are refused. */
export function emptyRefusingDescriber(
  maxBatch: number,
  ids: { modelId: string; descriptorId: string } = { modelId: 'm1', descriptorId: 'd1' },
): Describer {
  return {
    ...ids,
    manifest: { id: ids.modelId, maxBatch, output: { dimension: 4 } } as unknown as ModelManifest,
    describe: async (images) =>
      images.map((bytes) =>
        bytes.length === 0
          ? { ok: false, error: new ImageRejectedError('empty image (0 bytes)') }
          : { ok: true, vector: new Float32Array([1, 0, 0, 0]) },
      ),
    close: async () => {},
  };
}

/** The handler's settings that these tests do not vary: an empty catalogue, the default policy. */
export const handlerSettings = {
  index: () => CatalogueIndex.empty(),
  policy: { threshold: 0.5, margin: 0.02 },
  keepCandidates: 2,
  mentionsTopic: 'mentions',
  deadLetterTopic: 'dead-letters',
  service: 'embedder',
};

// ---------------------------------------------------------------- the embedder end to end, without a model

/** A catalogue product of the tests: 4-d vectors, one view; null name, brand or category as the feed may send. */
export interface TestProduct {
  sku: string;
  vector: number[];
  name: string | null;
  brand: string | null;
  category: string | null;
}

/** The catalogue-embeddings record of a test product (model `m1`, descriptor `d1`). */
export const testEmbedding = (
  product: TestProduct,
  updatedAt = '2026-11-20T00:00:00.000Z',
): CatalogueEmbedding => ({
  sku: product.sku,
  style: null,
  colour: null,
  name: product.name,
  category: product.category,
  brand: product.brand,
  price: null,
  modelId: 'm1',
  descriptor: 'd1',
  dimension: product.vector.length,
  views: [{ view: 'main', contentHash: 'f'.repeat(64), vector: product.vector }],
  updatedAt,
});

/** The embedder's catalogue memory fed the products' records as the service feeds it from the topic. */
export function memoryOf(products: readonly TestProduct[]): CatalogueMemory {
  const memory = new CatalogueMemory('m1', 'd1', products[0]!.vector.length);
  for (const product of products) {
    const embedding = testEmbedding(product);
    const change = catalogueChange(
      catalogueKey(product.sku, 'm1', 'd1'),
      encode(CatalogueEmbedding, embedding),
      'm1',
      'd1',
    );
    memory.apply(change);
  }
  memory.rebuild();
  return memory;
}

/**
 * Runs the embedder's handler, wired to the memory as the service wires it (`index: () =>
 * memory.index`, `productFacts` from `memory.factsOf`), on one upload whose photos are these descriptors (a stand-in describer reads
 * each photo's bytes as its descriptor), and returns the mention records it writes, decoded with
 * the topic's contract as a consumer reads them.
 */
export async function embedderMentions(
  memory: CatalogueMemory,
  photos: readonly number[][],
  options: { id?: string; policy?: { threshold: number; margin: number }; upload?: Partial<Upload> } = {},
): Promise<Mention[]> {
  const refs = photos.map((_, i) => `sha256:${String(i).padStart(64, '0')}`);
  const bytes = new Map(refs.map((ref, i) => [ref, Buffer.from(JSON.stringify(photos[i]))]));
  const describer: Describer = {
    modelId: 'm1',
    descriptorId: 'd1',
    manifest: { maxBatch: 8 } as ModelManifest,
    describe: async (images) =>
      images.map((image) => ({
        ok: true,
        vector: Float32Array.from(JSON.parse(image.toString()) as number[]),
      })),
    close: async () => {},
  };
  const handler = embedderHandler({
    describer,
    sources: {
      blobs: { get: async (ref) => bytes.get(ref)!, put: async () => refs[0]!, has: async () => true },
      fetcher: {} as ImageFetcher,
    },
    ...handlerSettings,
    index: () => memory.index,
    productFacts: (sku) => memory.factsOf(sku),
    ...(options.policy ? { policy: options.policy } : {}),
    now: () => new Date('2026-11-20T11:00:00.000Z'),
  });
  const upload = { ...blobUpload(options.id ?? '1', refs), ...options.upload };
  const [outcome] = await handler([uploadsRecord(encode(UploadSchema, upload), 0)], {
    heartbeat: async () => {},
    attempt: 1,
    maxAttempts: 5,
  });
  if (outcome?.kind !== 'done') throw new Error(`the upload was not done: ${JSON.stringify(outcome)}`);
  return (outcome.outputs ?? []).map((record) => decode(MentionSchema, Buffer.from(record.value as Buffer)));
}
