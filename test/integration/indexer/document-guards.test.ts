/**
 * What the indexer's bulk path (indexUntilSettled, as the handler calls it) guarantees on the real
 * node when events about the same document arrive again, late, or in a shape the index refuses:
 *   - a photo re-processed after a model fix replaces its earlier decision (one document per
 *     photo), an older decision arriving later does not come back, a replay changes nothing;
 *   - catalogue records of an old descriptor (or the legacy key) do not overwrite a newer record;
 *   - a vector of another dimension than the index's loses the vector only, not the document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogueEmbedding, Mention } from '../../../shared/contracts/events.ts';
import { applyIndices } from '../../../shared/elasticsearch/apply.ts';
import { type ItemResult, indexUntilSettled } from '../../../shared/elasticsearch/bulk.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import {
  catalogueAction,
  type IndexAction,
  mentionAction,
  postAction,
} from '../../../shared/elasticsearch/documents.ts';
import { MerchandiserQueries } from '../../../shared/elasticsearch/queries.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { buildScenario } from './scenario.ts';

const { elasticsearchUrl } = integrationEnv();
const es = createElasticsearch(elasticsearchUrl);
const scenario = buildScenario(new Date('2025-06-20T12:00:00Z'));
const t = '2025-06-20T10:00:00.000Z';

async function indexAll(prefix: string, actions: IndexAction[]): Promise<ItemResult[]> {
  const results = await indexUntilSettled(es, actions, { backoff: { initialMs: 50, maxMs: 500 } });
  await es.indices.refresh({ index: `${prefix}-*` });
  return results;
}

afterAll(async () => {
  await es.close();
});

describe('mentions: one document per photo, the newest decision wins', () => {
  const prefix = uniqueNamespace('guards-m');
  const queries = new MerchandiserQueries(es, prefix);
  const index = (actions: IndexAction[]) => indexAll(prefix, actions);
  const base = {
    uploadEventId: 'u1',
    postId: 'P1',
    memberId: 'm',
    imageIndex: 0,
    imageUrl: 'https://x/1.jpg',
    location: { country: 'FR', city: 'Paris', lat: 48.85, lon: 2.35 },
    eventTime: t,
    modelId: 'squeezenet1.1',
    photoEmbedding: [1, 0.2, 0, 0, 0.1, 0, 0, 0],
  };
  const wrong: Mention = {
    ...base,
    kind: 'mention',
    mentionId: 'u1:0:BAG-1',
    sku: 'BAG-1',
    score: 0.61,
    rank: 1,
    processedAt: t,
  };
  const fixed: Mention = {
    ...base,
    kind: 'mention',
    mentionId: 'u1:0:SHOE-9',
    sku: 'SHOE-9',
    score: 0.88,
    rank: 1,
    processedAt: '2025-06-21T09:00:00.000Z',
  };
  const mentionDocs = async () => {
    const response = await es.search<{ sku?: string; mentionId: string }>({
      index: `${prefix}-mentions`,
      query: { term: { photoId: 'u1:0' } },
    });
    return response.hits.hits.map((h) => h._source!);
  };

  beforeAll(async () => {
    await applyIndices(es, { prefix, retentionDays: 400, now: scenario.now });
    await index([
      postAction(prefix, { ...scenario.uploads[0]!, eventId: 'u1', postId: 'P1', clientTimestamp: t }),
    ]);
  });
  afterAll(() => deleteIndices(es, prefix));

  it('re-processing replaces the wrong match: the old SKU no longer finds the post', async () => {
    expect((await index([mentionAction(prefix, wrong)]))[0]).toEqual({ status: 'indexed' });
    expect((await queries.postsMentioningSku('BAG-1')).map((p) => p.postId)).toEqual(['P1']);
    expect((await index([mentionAction(prefix, fixed)]))[0]).toEqual({ status: 'indexed' });
    expect(await queries.postsMentioningSku('BAG-1')).toEqual([]);
    expect((await queries.postsMentioningSku('SHOE-9')).map((p) => p.postId)).toEqual(['P1']);
    expect(await mentionDocs()).toMatchObject([{ sku: 'SHOE-9', mentionId: 'u1:0:SHOE-9' }]);
  });

  it('an older decision arriving later (a replay of the old records) does not overwrite the newer', async () => {
    expect((await index([mentionAction(prefix, wrong)]))[0]).toMatchObject({
      status: 'indexed',
      note: 'superseded',
    });
    expect(await mentionDocs()).toMatchObject([{ sku: 'SHOE-9' }]);
    expect(await queries.postsMentioningSku('BAG-1')).toEqual([]);
  });

  it('the same mention delivered again is idempotent', async () => {
    expect(
      (await index([mentionAction(prefix, fixed), mentionAction(prefix, fixed)])).map((r) => r.status),
    ).toEqual(['indexed', 'indexed']);
    expect(await mentionDocs()).toMatchObject([{ sku: 'SHOE-9', mentionId: 'u1:0:SHOE-9' }]);
  });

  it('a vector of another dimension loses the vector, not the mention: it stays searchable', async () => {
    const other: Mention = {
      ...fixed,
      uploadEventId: 'u2',
      postId: 'P1',
      mentionId: 'u2:0:TOTE-4',
      sku: 'TOTE-4',
      modelId: 'new-model',
      photoEmbedding: Array.from({ length: 16 }, (_, i) => (i + 1) / 16),
    };
    const zero: Mention = {
      ...other,
      uploadEventId: 'u3',
      mentionId: 'u3:0:TOTE-4',
      photoEmbedding: [0, 0, 0, 0, 0, 0, 0, 0],
    };
    const [result, zeroResult] = await index([mentionAction(prefix, other), mentionAction(prefix, zero)]);
    expect(result).toMatchObject({ status: 'indexed', note: 'without-vector' });
    expect((result as { reason?: string }).reason).toMatch(/dense_vector.*photoEmbedding.*dimensions/);
    expect(zeroResult).toMatchObject({ status: 'indexed', note: 'without-vector' });
    const found = await queries.postsMentioningSku('TOTE-4');
    expect(found.map((p) => [p.postId, p.matchScore])).toEqual([['P1', 0.88]]);
    const doc = await es.get<Record<string, unknown>>({ index: `${prefix}-mentions-2025.06`, id: 'u2:0' });
    expect(doc._source).toMatchObject({ sku: 'TOTE-4', modelId: 'new-model', location: { country: 'FR' } });
    expect(doc._source!.photoEmbedding).toBeUndefined();
  });
});

describe('catalogue: records of an older descriptor do not overwrite a newer one', () => {
  const prefix = uniqueNamespace('guards-c');
  const index = (actions: IndexAction[]) => indexAll(prefix, actions);
  const record = (
    descriptor: string,
    price: number,
    updatedAt: string,
    vector: number[],
  ): CatalogueEmbedding => ({
    ...scenario.catalogue[0]!,
    descriptor,
    dimension: vector.length,
    price,
    updatedAt,
    views: [{ view: 'front', contentHash: 'a'.repeat(64), vector }],
  });
  const d1 = record('D1', 100, '2025-01-01T00:00:00Z', [1, 0.2, 0, 0, 0.1, 0, 0, 0]);
  const d2 = record('D2', 80, '2025-06-01T00:00:00Z', [0, 1, 0, 0, 0, 0, 0, 0.3]);
  const current = async () =>
    (
      await es.get<{ descriptor: string; price: number }>({
        index: `${prefix}-catalogue-v1`,
        id: 'BAG-1|squeezenet1.1',
      })
    )._source;

  beforeAll(() => applyIndices(es, { prefix, retentionDays: 400, now: scenario.now }));
  afterAll(() => deleteIndices(es, prefix));

  it('keeps the newest record whatever order the keys arrive in (partitions are not ordered)', async () => {
    // Legacy key and descriptor key of D2 first, then the left-over D1 records.
    const results = await index([catalogueAction(prefix, d2), catalogueAction(prefix, d2)]);
    expect(results.map((r) => r.status)).toEqual(['indexed', 'indexed']);
    const late = await index([catalogueAction(prefix, d1), catalogueAction(prefix, d1)]);
    expect(late).toEqual([
      expect.objectContaining({ status: 'indexed', note: 'superseded' }),
      expect.objectContaining({ status: 'indexed', note: 'superseded' }),
    ]);
    expect(await current()).toMatchObject({ descriptor: 'D2', price: 80 });
    // And in the other order the newer record replaces the older one.
    await index([catalogueAction(prefix, { ...d2, updatedAt: '2025-06-02T00:00:00Z', price: 75 })]);
    expect(await current()).toMatchObject({ descriptor: 'D2', price: 75 });
  });

  it('a product whose vectors have another dimension is indexed without them, its fields searchable', async () => {
    const wide = record(
      'D3',
      60,
      '2025-06-03T00:00:00Z',
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    const [result] = await index([catalogueAction(prefix, { ...wide, sku: 'COAT-1' })]);
    expect(result).toMatchObject({ status: 'indexed', note: 'without-vector' });
    const doc = await es.get<{ price: number; views: Array<Record<string, unknown>> }>({
      index: `${prefix}-catalogue-v1`,
      id: 'COAT-1|squeezenet1.1',
    });
    expect(doc._source!.price).toBe(60);
    expect(doc._source!.views).toEqual([{ view: 'front', contentHash: 'a'.repeat(64) }]);
  });
});
