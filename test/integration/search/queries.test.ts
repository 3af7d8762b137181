/**
 * The merchandisers' queries against the real Elasticsearch node, on the simulated run of
 * test/integration/indexer/scenario.ts written through the same templates and bulk path the
 * indexer uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { MerchandiserQueries } from '../../../shared/elasticsearch/queries.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { seedIndices } from '../indexer/harness.ts';
import { buildScenario } from '../indexer/scenario.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('search');
const es = createElasticsearch(elasticsearchUrl);
const scenario = buildScenario();
const { now } = scenario;
const queries = new MerchandiserQueries(es, prefix);

beforeAll(async () => {
  const results = await seedIndices(es, prefix, scenario, { catalogue: true });
  expect(results.filter((r) => r.status !== 'indexed')).toEqual([]);
});

afterAll(async () => {
  await deleteIndices(es, prefix);
  await es.close();
});

describe('rising products now', () => {
  it('ranks SKUs with rising global windows by weighted signals, with their newest window', async () => {
    const rising = await queries.risingProducts({ since: '6h', now });
    expect(rising).toEqual([
      {
        sku: 'BAG-1',
        category: 'bags',
        name: null,
        brand: null,
        // The busier of its two rising windows, not their sum (they overlap): all from that window.
        weightedCount: 60,
        signals: 40,
        distinctMembers: 20,
        busiestWindowStart: new Date(now.getTime() - 3_600_000).toISOString(),
        maxScore: 8,
        risingWindows: 2,
        latestWindowStart: new Date(now.getTime() - 3_600_000).toISOString(),
        latestWindowEnd: now.toISOString(),
        latestScore: 8,
        latestWeightedCount: 60,
        stillRising: true,
      },
    ]);
  });

  it('answers for one region: France has the bag and the shoe, Italy nothing', async () => {
    expect(
      (await queries.risingProducts({ since: '6h', now, country: 'FR' })).map((r) => [r.sku, r.maxScore]),
    ).toEqual([
      ['BAG-1', 8],
      ['SHOE-1', 4.5],
    ]);
    expect(await queries.risingProducts({ since: '6h', now, country: 'it' })).toEqual([]);
  });

  it('answers for one category', async () => {
    expect((await queries.risingProducts({ since: '6h', now, category: 'bags' })).map((r) => r.sku)).toEqual([
      'BAG-1',
    ]);
    expect(await queries.risingProducts({ since: '6h', now, category: 'shoes' })).toEqual([]);
  });

  it('counts the windows that ended inside the look-back period', async () => {
    // Rising windows ended 1h ago and now: a 30-minute look-back sees the one that just ended…
    expect(
      (await queries.risingProducts({ since: '30m', now })).map((r) => [r.sku, r.risingWindows]),
    ).toEqual([['BAG-1', 1]]);
    // …and two hours later, none.
    expect(await queries.risingProducts({ since: '30m', now: new Date(now.getTime() + 7_200_000) })).toEqual(
      [],
    );
  });

  it('groups by region and by category', async () => {
    expect(await queries.risingBy('country', { since: '6h', now })).toEqual([
      {
        key: 'FR',
        risingSkus: 2,
        // The same weighted signals (60): the score breaks the tie.
        top: [
          { sku: 'BAG-1', weightedCount: 60, maxScore: 8 },
          { sku: 'SHOE-1', weightedCount: 60, maxScore: 4.5 },
        ],
      },
      { key: 'GB', risingSkus: 1, top: [{ sku: 'BAG-1', weightedCount: 60, maxScore: 8 }] },
    ]);
    expect(await queries.risingBy('category', { since: '6h', now })).toEqual([
      { key: 'bags', risingSkus: 1, top: [{ sku: 'BAG-1', weightedCount: 60, maxScore: 8 }] },
    ]);
  });

  it('groups within one region or one category when asked', async () => {
    const inFrance = await queries.risingBy('category', { since: '6h', now, country: 'fr' });
    expect(inFrance.map((g) => [g.key, g.top.map((t) => t.sku)]).sort()).toEqual([
      ['bags', ['BAG-1']],
      ['shoes', ['SHOE-1']],
    ]);
    expect(
      (await queries.risingBy('country', { since: '6h', now, category: 'shoes' })).map((g) => g.key),
    ).toEqual(['FR']);
  });
});

describe("a SKU's timeline", () => {
  it('lists the windows in time order with baseline, score and the rising flag', async () => {
    const { points: timeline, truncated } = await queries.skuTimeline('BAG-1', { since: '7d', now });
    expect(truncated).toBe(false);
    expect(timeline).toHaveLength(6);
    expect(timeline.map((p) => p.windowStart)).toEqual(
      [6, 5, 4, 3, 2, 1].map((h) => new Date(now.getTime() - h * 3_600_000).toISOString()),
    );
    expect(timeline.map((p) => p.rising)).toEqual([false, false, false, false, true, true]);
    expect(timeline.map((p) => p.signals)).toEqual([4, 4, 4, 4, 30, 40]);
    expect(timeline[5]).toMatchObject({ baseline: 4, score: 8, weightedCount: 60 });
  });

  it('answers per region', async () => {
    const { points: italy } = await queries.skuTimeline('BAG-1', { since: '7d', now, country: 'IT' });
    expect(italy).toHaveLength(6);
    expect(italy.every((p) => !p.rising)).toBe(true);
  });
});

describe('posts mentioning a SKU', () => {
  it('returns each post once, best match first, with its caption and photos', async () => {
    const posts = await queries.postsMentioningSku('SHOE-1');
    expect(posts.map((p) => p.postId)).toEqual(['post-4', 'post-5', 'post-6']);
    expect(posts.map((p) => p.matchScore)).toEqual([0.9, 0.85, 0.8]);
    expect(posts[0]).toMatchObject({
      caption: 'Red satin pumps for the gala',
      hashtags: ['redshoes', 'gala'],
      imageUrls: ['https://cdn.example.com/posts/post-4/0.jpg'],
      matchedImageUrl: 'https://cdn.example.com/posts/post-4/0.jpg',
      country: 'FR',
      city: 'Paris',
    });
  });

  it('returns nothing for a SKU nobody posted', async () => {
    expect(await queries.postsMentioningSku('NOBODY-1')).toEqual([]);
  });
});

describe('full-text search of captions and hashtags', () => {
  it('finds words in captions', async () => {
    const found = await queries.searchPosts('quilted');
    expect(found.map((p) => p.postId).sort()).toEqual(['post-0', 'post-3']);
    expect(found.every((p) => /<em>quilted<\/em>/i.test(p.highlights.join(' ')))).toBe(true);
  });

  it('matches hashtags whatever their case, with or without #', async () => {
    expect((await queries.searchPosts('#totebag')).map((p) => p.postId).sort()).toEqual([
      'post-0',
      'post-1',
      'post-2',
    ]);
    expect((await queries.searchPosts('TOTEBAG')).map((p) => p.postId).sort()).toEqual([
      'post-0',
      'post-1',
      'post-2',
    ]);
  });

  it('ranks a post matching caption and hashtag above one matching the caption only', async () => {
    // post-4: "Red satin pumps…" #gala; post-5: "These pumps…" without #gala.
    const found = await queries.searchPosts('pumps gala');
    expect(found.map((p) => p.postId)).toEqual(['post-4', 'post-5']);
  });
});

describe('posts that look like this product', () => {
  it('finds the photos the matcher missed: not those already matched to the SKU', async () => {
    const photos = await queries.postsLookingLike('COAT-1', { size: 3 });
    expect(photos[0]).toMatchObject({ photoId: 'evt-8:1', matchedSku: null, postId: 'post-8' });
    expect(photos[0]!.similarity).toBeGreaterThan(0.95);
    expect(photos.map((p) => p.matchedSku)).not.toContain('COAT-1');
    expect(photos).toHaveLength(3);
  });

  it('with includeMatched, the nearest photos matched or not, each once', async () => {
    const photos = await queries.postsLookingLike('COAT-1', { size: 3, includeMatched: true });
    expect(photos.map((p) => p.photoId).sort()).toEqual(['evt-7:0', 'evt-8:0', 'evt-8:1']);
    expect(photos.every((p) => p.similarity > 0.95)).toBe(true);
    expect(photos.find((p) => p.photoId === 'evt-8:1')).toMatchObject({ matchedSku: null, postId: 'post-8' });
    expect(photos.find((p) => p.photoId === 'evt-7:0')).toMatchObject({
      matchedSku: 'COAT-1',
      country: 'IT',
    });
  });

  it('ranks photos of another product below', async () => {
    const photos = await queries.postsLookingLike('BAG-1', { size: 10, includeMatched: true });
    expect(photos.slice(0, 4).map((p) => p.matchedSku)).toEqual(['BAG-1', 'BAG-1', 'BAG-1', 'BAG-1']);
    expect(photos[4]!.similarity).toBeLessThan(photos[3]!.similarity);
    expect(new Set(photos.map((p) => p.photoId)).size).toBe(photos.length);
  });

  it('says clearly when the SKU is not in the catalogue', async () => {
    await expect(queries.postsLookingLike('NOBODY-1')).rejects.toThrow(/not in the catalogue/);
  });
});
