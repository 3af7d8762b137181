/**
 * "Photos that look like this product" as the merchandiser audit used it: a product with many
 * photos the embedder already matched to it (the nearest ones), and a few it missed (no match, or
 * matched to another product) a little further away. The command is for finding the missed ones.
 * Through the query API and through the CLI (in process, against the same node).
 */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register, searchFailure } from '../../../services/indexer/commands.ts';
import type { CatalogueEmbedding, Mention } from '../../../shared/contracts/events.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { catalogueAction, mentionAction } from '../../../shared/elasticsearch/documents.ts';
import { elasticsearchReason, MerchandiserQueries } from '../../../shared/elasticsearch/queries.ts';
import { indexForQueries } from '../../support/elasticsearch.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('looks-like');
/** A catalogue synced with another descriptor (8-d) than the photos were embedded with (4-d). */
const otherDescriptorPrefix = uniqueNamespace('looks-like-dims');
const es = createElasticsearch(elasticsearchUrl);
const queries = new MerchandiserQueries(es, prefix);
const now = new Date('2025-11-25T23:00:00Z');
const MODEL = 'squeezenet1.1';

const LOOK = [1, 0.2, 0, 0, 0.1, 0, 0, 0];
const OTHER = [0, 0, 0, 1, 0.2, 0.3, 0, 0];
const near = (vector: number[], seed: number, amplitude: number) =>
  vector.map((x, i) => x + amplitude * Math.sin(seed * 7 + i * 3));

function photo(
  n: number,
  embedding: number[],
  match: { sku: string } | { candidates: Array<{ sku: string; score: number }> },
): Mention {
  const base = {
    mentionId: `evt-${n}:0:${'sku' in match ? match.sku : 'none'}`,
    uploadEventId: `evt-${n}`,
    postId: `post-${n}`,
    memberId: `member-${n % 11}`,
    imageIndex: 0,
    imageUrl: `https://cdn.example.com/posts/post-${n}/0.jpg`,
    location: { country: 'GB', city: 'London' },
    eventTime: new Date(now.getTime() - n * 60_000).toISOString(),
    modelId: MODEL,
    processedAt: new Date(now.getTime() - n * 60_000).toISOString(),
    photoEmbedding: embedding,
  };
  return 'sku' in match
    ? { ...base, kind: 'mention', sku: match.sku, score: 0.8, rank: 1 }
    : { ...base, kind: 'no-match', candidates: match.candidates };
}

const product = (sku: string, vector: number[]): CatalogueEmbedding => ({
  sku,
  style: sku.split('-')[0]!,
  colour: null,
  name: sku,
  category: 'shoes',
  brand: 'Maison Vermeil',
  price: 420,
  modelId: MODEL,
  descriptor: 'test-8d',
  dimension: vector.length,
  views: [{ view: 'front', contentHash: 'a'.repeat(64), vector }],
  updatedAt: new Date(now.getTime() - 86_400_000).toISOString(),
});

const MATCHED = 120;
const mentions: Mention[] = [];
// 120 photos of LOOK-1 the embedder matched to it: the nearest to its catalogue vector.
for (let i = 0; i < MATCHED; i++) mentions.push(photo(i, near(LOOK, i, 0.02), { sku: 'LOOK-1' }));
// Photos of LOOK-1 it missed, a little further: two with no match, one matched to OTHER-1.
const missed = ['evt-500:0', 'evt-501:0', 'evt-502:0'];
mentions.push(photo(500, near(LOOK, 500, 0.12), { candidates: [{ sku: 'LOOK-1', score: 0.4 }] }));
mentions.push(photo(501, near(LOOK, 501, 0.12), { candidates: [] }));
mentions.push(photo(502, near(LOOK, 502, 0.12), { sku: 'OTHER-1' }));
// 30 photos of another product, matched to it.
for (let i = 600; i < 630; i++) mentions.push(photo(i, near(OTHER, i, 0.02), { sku: 'OTHER-1' }));
const notMatchedToLook = mentions.length - MATCHED;

const env = {
  ES_INDEX_PREFIX: process.env.ES_INDEX_PREFIX,
  ELASTICSEARCH_URL: process.env.ELASTICSEARCH_URL,
};

beforeAll(async () => {
  await indexForQueries(es, prefix, now, [
    ...mentions.map((m) => mentionAction(prefix, m)),
    catalogueAction(prefix, product('LOOK-1', LOOK)),
    catalogueAction(prefix, product('OTHER-1', OTHER)),
  ]);
  await indexForQueries(es, otherDescriptorPrefix, now, [
    ...mentions
      .slice(0, 5)
      .map((m) => mentionAction(otherDescriptorPrefix, { ...m, photoEmbedding: [1, 0, 0, 0.1] })),
    catalogueAction(otherDescriptorPrefix, product('LOOK-1', LOOK)),
  ]);
  process.env.ELASTICSEARCH_URL = elasticsearchUrl;
});

afterAll(async () => {
  for (const [key, value] of Object.entries(env))
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  await deleteIndices(es, prefix);
  await deleteIndices(es, otherDescriptorPrefix);
  await es.close();
});

describe('looks-like: the photos the matcher missed', () => {
  it('the nearest photos are all already matched to the SKU (the premise)', async () => {
    const photos = await queries.postsLookingLike('LOOK-1', { size: 100, includeMatched: true });
    expect(photos).toHaveLength(100);
    expect(photos.every((p) => p.matchedSku === 'LOOK-1')).toBe(true);
  });

  it('leaves out the photos matched to the SKU by default: the missed ones come first', async () => {
    const photos = await queries.postsLookingLike('LOOK-1');
    expect(photos).toHaveLength(20);
    expect(
      photos
        .slice(0, 3)
        .map((p) => p.photoId)
        .sort(),
    ).toEqual(missed);
    expect(photos.find((p) => p.photoId === 'evt-502:0')).toMatchObject({ matchedSku: 'OTHER-1' });
    expect(photos.some((p) => p.matchedSku === 'LOOK-1')).toBe(false);
    // Then the other product's photos, further away.
    expect(photos[3]!.similarity).toBeLessThan(photos[2]!.similarity);
  });

  it('answers sizes beyond a thousand (num_candidates is capped at 10,000)', async () => {
    expect(await queries.postsLookingLike('LOOK-1', { size: 1001 })).toHaveLength(notMatchedToLook);
    expect(await queries.postsLookingLike('LOOK-1', { size: 10_000, includeMatched: true })).toHaveLength(
      mentions.length,
    );
  });

  it('refuses more than 10,000 photos clearly, before asking Elasticsearch', async () => {
    await expect(queries.postsLookingLike('LOOK-1', { size: 10_001 })).rejects.toThrow(
      "looks-like returns 1 to 10,000 photos (Elasticsearch's kNN limit), not 10001",
    );
  });

  it('says what is wrong when the catalogue and the photos have vectors of other dimensions', async () => {
    const other = new MerchandiserQueries(es, otherDescriptorPrefix);
    await expect(other.postsLookingLike('LOOK-1')).rejects.toThrow(
      /SKU LOOK-1: its squeezenet1\.1 catalogue vectors have 8 dimensions, the photo descriptors in the mentions index another \(.*different number of dimensions \[8\] than the document vectors \[4\].*\): the catalogue was synced with another descriptor/,
    );
  });

  it("turns Elasticsearch's refusal into its deepest reason, not 'all shards failed'", async () => {
    const refused = await es
      .search({
        index: `${otherDescriptorPrefix}-mentions`,
        knn: { field: 'photoEmbedding', query_vector: LOOK, k: 5, num_candidates: 50 },
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect((refused as Error).message).toMatch(/search_phase_execution_exception/);
    const reason = elasticsearchReason(refused);
    expect(reason).toMatch(
      /^illegal_argument_exception: The query vector has a different number of dimensions/,
    );
    expect((searchFailure('looks-like', refused, reason) as Error).message).toBe(
      `search looks-like: Elasticsearch refused the query (HTTP 400): ${reason}`,
    );
    // Not an answer from Elasticsearch: left as it is for the CLI's own explanation.
    const other = new Error('boom');
    expect(searchFailure('looks-like', other, elasticsearchReason(other))).toBe(other);
  });
});

describe('search looks-like on the command line', () => {
  const cli = async (args: string[]): Promise<unknown> => {
    process.env.ES_INDEX_PREFIX = prefix;
    const program = new Command('trend-radar').exitOverride().configureOutput({ writeErr: () => {} });
    register(program);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await program.parseAsync(['search', 'looks-like', ...args], { from: 'user' });
      return JSON.parse(String(log.mock.calls.at(-1)?.[0]));
    } finally {
      log.mockRestore();
    }
  };

  it('lists the missed photos by default, and all with --include-matched', async () => {
    const missedFirst = (await cli(['LOOK-1', '--size', '3'])) as Array<{ photoId: string }>;
    expect(missedFirst.map((p) => p.photoId).sort()).toEqual(missed);
    const all = (await cli(['LOOK-1', '--size', '3', '--include-matched'])) as Array<{ matchedSku: string }>;
    expect(all.map((p) => p.matchedSku)).toEqual(['LOOK-1', 'LOOK-1', 'LOOK-1']);
  });

  it('answers --size 1001 and refuses --size 10001 naming the flag', async () => {
    expect(await cli(['LOOK-1', '--size', '1001'])).toHaveLength(notMatchedToLook);
    await expect(cli(['LOOK-1', '--size', '10001'])).rejects.toThrow(
      "--size is at most 10,000 photos (Elasticsearch's kNN limit), not 10001",
    );
  });
});
