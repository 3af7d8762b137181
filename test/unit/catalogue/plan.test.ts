import { describe, expect, it } from 'vitest';
import { catalogueChange, catalogueKey } from '../../../services/catalogue/catalogue-topic.ts';
import type { EmbeddedProduct } from '../../../services/catalogue/embed-catalogue.ts';
import type { CatalogueItem } from '../../../services/catalogue/feed.ts';
import { knownVectors, planSync } from '../../../services/catalogue/plan.ts';
import type { CatalogueEmbedding } from '../../../shared/contracts/events.ts';

const hash = (c: string) => c.repeat(64);
const item = (sku: string, extra: Partial<CatalogueItem> = {}): CatalogueItem => ({
  sku,
  style: 'S1',
  colour: 'red',
  name: null,
  category: null,
  brand: null,
  price: 10,
  images: [{ view: 'main', location: `/x/${sku}.jpg`, kind: 'file' }],
  ...extra,
});
const embedded = (sku: string, h: string, extra: Partial<CatalogueItem> = {}): EmbeddedProduct => ({
  item: item(sku, extra),
  views: [{ view: 'main', contentHash: hash(h), vector: Float32Array.from([0.5, 0.25]) }],
});
const now = new Date('2026-11-20T00:00:00Z');
const base = { modelId: 'm1', descriptor: 'd1', now };

function published(products: EmbeddedProduct[]): Map<string, CatalogueEmbedding> {
  const plan = planSync({ ...base, current: new Map(), embedded: products, feedSkus: new Set() });
  return new Map(plan.publish.map((p) => [p.sku, p]));
}

describe('planSync', () => {
  it('publishes new products with their views, model and descriptor', () => {
    const plan = planSync({
      ...base,
      current: new Map(),
      embedded: [embedded('A', 'a')],
      feedSkus: new Set(['A']),
    });
    expect(plan.unchanged).toEqual([]);
    expect(plan.tombstone).toEqual([]);
    expect(plan.publish).toEqual([
      {
        sku: 'A',
        style: 'S1',
        colour: 'red',
        name: null,
        category: null,
        brand: null,
        price: 10,
        modelId: 'm1',
        descriptor: 'd1',
        dimension: 2,
        views: [{ view: 'main', contentHash: hash('a'), vector: [0.5, 0.25] }],
        updatedAt: now.toISOString(),
      },
    ]);
  });

  it('skips products whose facts and images are unchanged, republishes changed ones', () => {
    const current = published([embedded('A', 'a'), embedded('B', 'b'), embedded('C', 'c')]);
    const plan = planSync({
      ...base,
      now: new Date('2026-11-21T00:00:00Z'),
      current,
      embedded: [embedded('A', 'a'), embedded('B', 'x'), embedded('C', 'c', { price: 12 })],
      feedSkus: new Set(['A', 'B', 'C']),
    });
    expect(plan.unchanged).toEqual(['A']);
    expect(plan.publish.map((p) => p.sku)).toEqual(['B', 'C']);
  });

  it('tombstones only SKUs the feed no longer names, not those whose images failed this time', () => {
    const current = published([embedded('A', 'a'), embedded('B', 'b'), embedded('C', 'c')]);
    // B is still in the feed (its image could not be read), C is gone.
    const plan = planSync({
      ...base,
      current,
      embedded: [embedded('A', 'a')],
      feedSkus: new Set(['A', 'B']),
    });
    expect(plan.tombstone).toEqual(['C']);
  });

  it('offers known vectors for reuse only from the same descriptor', () => {
    const current = published([embedded('A', 'a')]);
    expect([...knownVectors(current, 'd1').keys()]).toEqual([hash('a')]);
    expect(knownVectors(current, 'd2').size).toBe(0);
  });
});

describe('catalogueChange', () => {
  const value = (embedding: CatalogueEmbedding) => Buffer.from(JSON.stringify(embedding));
  const a = published([embedded('A', 'a')]).get('A')!;

  it('reads upserts and tombstones of its model', () => {
    expect(catalogueChange(catalogueKey('A', 'm1'), value(a), 'm1')).toMatchObject({
      kind: 'upsert',
      sku: 'A',
    });
    expect(catalogueChange(catalogueKey('A', 'm1'), null, 'm1')).toEqual({ kind: 'remove', sku: 'A' });
  });

  it('ignores other models, bad keys, unreadable values and values that contradict their key', () => {
    expect(catalogueChange(catalogueKey('A', 'm2'), null, 'm1')).toEqual({
      kind: 'ignore',
      reason: 'another model',
    });
    expect(catalogueChange('no-bar', null, 'm1').kind).toBe('ignore');
    expect(catalogueChange(null, null, 'm1').kind).toBe('ignore');
    expect(catalogueChange(catalogueKey('A', 'm1'), Buffer.from('{oops'), 'm1').kind).toBe('ignore');
    expect(catalogueChange(catalogueKey('B', 'm1'), value(a), 'm1')).toMatchObject({ kind: 'ignore' });
  });
});
