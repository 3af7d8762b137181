import { describe, expect, it } from 'vitest';
import {
  catalogueChange,
  catalogueKey,
  legacyCatalogueKey,
  parseCatalogueKey,
} from '../../../services/catalogue/catalogue-topic.ts';
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

  it('republishes SKUs found only under the legacy key, and tombstones any SKU left on the topic', () => {
    const current = published([embedded('A', 'a'), embedded('B', 'b')]);
    const plan = planSync({
      ...base,
      current,
      embedded: [embedded('A', 'a'), embedded('B', 'b')],
      feedSkus: new Set(['A', 'B']),
      rewrite: new Set(['B']),
      // D has records only under another descriptor: it left the feed all the same.
      onTopic: ['A', 'B', 'D'],
    });
    expect(plan.unchanged).toEqual(['A']);
    expect(plan.publish.map((p) => p.sku)).toEqual(['B']);
    expect(plan.tombstone).toEqual(['D']);
  });

  it('offers known vectors for reuse only from the same descriptor', () => {
    const current = published([embedded('A', 'a')]);
    expect([...knownVectors(current, 'd1').keys()]).toEqual([hash('a')]);
    expect(knownVectors(current, 'd2').size).toBe(0);
  });
});

describe('catalogue keys', () => {
  it('carry the SKU, the model and the descriptor, and still read the legacy <sku>|<modelId> form', () => {
    expect(catalogueKey('A', 'm1', 'fgbox-sqrt+lab4x8x8-v1')).toBe('A|m1@fgbox-sqrt+lab4x8x8-v1');
    // The topic contract's key: `<sku>|` then anything without a bar (the indexer checks it).
    expect(catalogueKey('A', 'm1', 'd1')).toMatch(/^[A-Za-z0-9._-]+\|[^|]+$/);
    expect(parseCatalogueKey(catalogueKey('A.1', 'm1', 'x+y-v2'))).toEqual({
      sku: 'A.1',
      modelId: 'm1',
      descriptor: 'x+y-v2',
    });
    expect(parseCatalogueKey(legacyCatalogueKey('A', 'm1'))).toEqual({
      sku: 'A',
      modelId: 'm1',
      descriptor: null,
    });
    for (const bad of ['no-bar', '|m1', 'A|', 'A|@d1', 'A|m1@']) expect(parseCatalogueKey(bad)).toBeNull();
  });
});

describe('catalogueChange', () => {
  const value = (embedding: CatalogueEmbedding) => Buffer.from(JSON.stringify(embedding));
  const a = published([embedded('A', 'a')]).get('A')!;
  const change = (key: string | null, v: Buffer | null, descriptor = 'd1') =>
    catalogueChange(key, v, 'm1', descriptor);

  it('reads upserts and tombstones of its model and descriptor', () => {
    expect(change(catalogueKey('A', 'm1', 'd1'), value(a))).toMatchObject({
      kind: 'upsert',
      sku: 'A',
      legacy: false,
    });
    expect(change(catalogueKey('A', 'm1', 'd1'), null)).toEqual({ kind: 'remove', sku: 'A', legacy: false });
  });

  it('reads legacy-key records of its descriptor as such, and their tombstones', () => {
    expect(change(legacyCatalogueKey('A', 'm1'), value(a))).toMatchObject({ kind: 'upsert', legacy: true });
    expect(change(legacyCatalogueKey('A', 'm1'), null)).toEqual({ kind: 'remove', sku: 'A', legacy: true });
    expect(change(legacyCatalogueKey('A', 'm1'), value(a), 'd2')).toEqual({
      kind: 'ignore',
      reason: 'another descriptor',
      expected: true,
    });
  });

  it('passes over other models and descriptors quietly, and flags bad keys and values', () => {
    expect(change(catalogueKey('A', 'm2', 'd1'), null)).toEqual({
      kind: 'ignore',
      reason: 'another model',
      expected: true,
    });
    // A sync with a new descriptor never touches the keys of the previous one.
    expect(change(catalogueKey('A', 'm1', 'd2'), value({ ...a, descriptor: 'd2' }))).toEqual({
      kind: 'ignore',
      reason: 'another descriptor',
      expected: true,
    });
    expect(change(catalogueKey('A', 'm1', 'd2'), null)).toMatchObject({ kind: 'ignore', expected: true });
    for (const unreadable of [
      change('no-bar', null),
      change(null, null),
      change(catalogueKey('A', 'm1', 'd1'), Buffer.from('{oops')),
      change(catalogueKey('B', 'm1', 'd1'), value(a)),
      change(catalogueKey('A', 'm1', 'd1'), value({ ...a, descriptor: 'd2' })),
    ]) {
      expect(unreadable).toMatchObject({ kind: 'ignore' });
      expect(unreadable).not.toHaveProperty('expected');
    }
  });
});
