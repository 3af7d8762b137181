/**
 * The embedder writes the matched product's catalogue facts (name, brand, category) and the
 * match's margin over the runner-up SKU into each mention, from its catalogue memory at match
 * time (a join at the source), so the indexer can make mentions findable by product and
 * merchandisers can filter weak matches. Records written before stay valid.
 */
import { describe, expect, it } from 'vitest';
import { mentionsFor } from '../../../services/embedder/mentions.ts';
import { Mention } from '../../../shared/contracts/events.ts';
import { decide } from '../../../shared/vision/matcher.ts';
import { blobUpload, embedderMentions, memoryOf, type TestProduct, testEmbedding } from './fixtures.ts';

const PRODUCTS: TestProduct[] = [
  { sku: 'SH-1', vector: [1, 0, 0, 0], name: 'Søren Boot', brand: 'Maison Vermeil', category: 'Shoes' },
  { sku: 'SH-2', vector: [0, 1, 0, 0], name: 'Wild Thing', brand: 'Maison Vermeil', category: 'Shoes' },
  { sku: 'BG-1', vector: [0, 0, 1, 0], name: 'Quilted tote', brand: 'Luma', category: 'Bags' },
  { sku: 'CT-1', vector: [0, 0, 0, 1], name: null, brand: null, category: null },
];
const round = (x: number) => Math.round(x * 1e6) / 1e6;

describe('mentions carry the product and the margin', () => {
  it("names the matched product from the embedder's catalogue memory, and its lead over the runner-up", async () => {
    const memory = memoryOf(PRODUCTS);
    const clear = [1, 0.05, 0, 0];
    const between = [0.5, 0.46, 0, 0]; // a photo between the two boots: matched, with a thin margin
    const policy = { threshold: 0.5, margin: 0.02 };
    const [a, b] = await embedderMentions(memory, [clear, between], { policy });
    for (const [mention, photo] of [
      [a, clear],
      [b, between],
    ] as const) {
      const candidates = memory.index.search(Float32Array.from(photo), 2);
      expect(decide(candidates, policy)).toMatchObject({ decision: 'matched', sku: 'SH-1' });
      expect(mention).toMatchObject({
        kind: 'mention',
        sku: 'SH-1',
        name: 'Søren Boot',
        brand: 'Maison Vermeil',
        category: 'Shoes',
        // The figure the decision compared with the policy's margin, exactly.
        margin: round(candidates[0]!.score - candidates[1]!.score),
      });
    }
    const [clearMargin, thinMargin] = [a, b].map((m) => (m?.kind === 'mention' ? m.margin! : Number.NaN));
    expect(clearMargin).toBeGreaterThan(0.5);
    expect(thinMargin).toBeLessThan(0.2);
  });

  it('writes no facts for a SKU the catalogue does not name, and none on a no-match', async () => {
    const memory = memoryOf(PRODUCTS);
    const [unnamed, none] = await embedderMentions(memory, [
      [0, 0, 0, 1],
      [0.1, 0.1, 0.1, 0.1],
    ]);
    expect(unnamed).toMatchObject({ kind: 'mention', sku: 'CT-1' });
    for (const field of ['name', 'brand', 'category']) expect(unnamed).not.toHaveProperty(field);
    expect(none?.kind).toBe('no-match');
    for (const field of ['name', 'brand', 'category', 'margin']) expect(none).not.toHaveProperty(field);
  });

  it('names a product as the catalogue names it when the photo is matched, before the index is rebuilt', async () => {
    const memory = memoryOf(PRODUCTS);
    const renamed = { ...PRODUCTS[0]!, name: 'Søren Chelsea Boot', brand: 'Vermeil' };
    expect(memory.apply({ kind: 'upsert', sku: 'SH-1', embedding: testEmbedding(renamed) })).toBe('changed');
    expect(memory.pending).toBe(true);
    const [mention] = await embedderMentions(memory, [[1, 0, 0, 0]]);
    expect(mention).toMatchObject({ sku: 'SH-1', name: 'Søren Chelsea Boot', brand: 'Vermeil' });
    // A SKU that left the catalogue, still in the index until the rebuild: matched, not named.
    memory.apply({ kind: 'remove', sku: 'SH-1' });
    const [orphan] = await embedderMentions(memory, [[1, 0, 0, 0]]);
    expect(orphan).toMatchObject({ sku: 'SH-1' });
    expect(orphan).not.toHaveProperty('name');
    expect(memory.factsOf('SH-2')).toEqual({
      name: 'Wild Thing',
      brand: 'Maison Vermeil',
      category: 'Shoes',
    });
  });

  it('has no margin without a runner-up, and reads facts only for the SKU it matched', () => {
    const product = { name: 'Wild Thing', brand: 'Maison Vermeil', category: 'Shoes' };
    const context = (named: string) => ({
      modelId: 'm1',
      policy: { threshold: 0.5, margin: 0.02 },
      keepCandidates: 2,
      now: new Date('2026-11-20T11:00:00Z'),
      productFacts: (sku: string) => (sku === named ? product : undefined),
    });
    const upload = blobUpload('1', [`sha256:${'a'.repeat(64)}`]);
    const vector = Float32Array.from([1, 0]);
    const [alone] = mentionsFor(
      { upload, imageIndex: 0, vector, candidates: [{ sku: 'A', score: 0.9 }] },
      context('A'),
    );
    expect(alone).toMatchObject({ kind: 'mention', sku: 'A', name: 'Wild Thing' });
    expect(alone).not.toHaveProperty('margin');
    const [plain] = mentionsFor(
      {
        upload,
        imageIndex: 0,
        vector,
        candidates: [
          { sku: 'A', score: 0.9 },
          { sku: 'B', score: 0.3 },
        ],
      },
      context('B'),
    );
    expect(plain).toMatchObject({ sku: 'A', margin: 0.6 });
    expect(plain).not.toHaveProperty('name');
  });

  it('keeps records written before these fields valid, and bounds the new ones as the catalogue does', () => {
    const older = {
      kind: 'mention',
      mentionId: 'up-1:0:A',
      uploadEventId: 'up-1',
      postId: 'post-1',
      memberId: 'm-1',
      imageIndex: 0,
      imageUrl: 'https://cdn.example.com/a.jpg',
      location: { country: 'GB', city: 'London' },
      eventTime: '2026-11-20T10:00:00.000Z',
      modelId: 'm1',
      processedAt: '2026-11-20T11:00:00.000Z',
      sku: 'A',
      score: 0.9,
      rank: 1,
    };
    expect(Mention.safeParse(older).success).toBe(true);
    expect(Mention.safeParse({ ...older, name: 'x'.repeat(301) }).success).toBe(false);
    expect(Mention.safeParse({ ...older, margin: 'wide' }).success).toBe(false);
  });
});
