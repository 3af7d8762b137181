/**
 * A merchandiser finds a product by name, brand or category in every panel of the Micro-trends
 * dashboard, on the real node (the audit's findings, docs/kibana.md):
 *
 * 1. one query (`product.name : "wild thing"`, `product.brand : "Maison Vermeil"`,
 *    `category : shoes`) finds the product's trend windows, alerts AND mentions: the embedder
 *    writes the matched product's facts from its catalogue memory, the indexer maps them;
 * 2. a weak match is visible: `margin < 0.05` finds the photo that sat between two products;
 * 3. name and brand are found without accents and in any case, on windows, alerts and mentions
 *    alike (`product.nameFolded : soren`, `product.brandFolded : "maison vermeil"`, `lukasz`,
 *    `strasse`), and a name the catalogue sent decomposed is found typed composed.
 *
 * Mentions come out of the embedder's handler (catalogue memory fed catalogue-embeddings records,
 * a stand-in describer), windows and alerts are contract records; every one is encoded as on its
 * topic and turned into its document by the indexer's own `actionFor`. Queries are KQL as typed
 * in Kibana, translated as Kibana does (`field : "a b"` → match_phrase, `field : word` → match,
 * `field < n` → range).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commonSettings,
  mentionsMapping,
  reorderAlertsMapping,
} from '../../../infra/elasticsearch/mappings.ts';
import { actionFor } from '../../../services/indexer/handler.ts';
import {
  Mention,
  type ReorderAlert,
  ReorderAlert as ReorderAlertSchema,
  type TrendWindow,
  TrendWindow as TrendWindowSchema,
} from '../../../shared/contracts/events.ts';
import { applyIndices } from '../../../shared/elasticsearch/apply.ts';
import { indexUntilSettled } from '../../../shared/elasticsearch/bulk.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { aliasName, monthlyIndex } from '../../../shared/elasticsearch/indices.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { indexForQueries } from '../../support/elasticsearch.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { embedderMentions, memoryOf, type TestProduct } from '../../unit/embedder/fixtures.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('findproduct');
const es = createElasticsearch(elasticsearchUrl);
const now = new Date('2026-11-20T12:00:00.000Z');
const TAKEN = '2026-11-20T10:00:00.000Z'; // the test uploads' clientTimestamp

const PRODUCTS: TestProduct[] = [
  { sku: 'SH-1', vector: [1, 0, 0, 0, 0], name: 'Søren Boot', brand: 'Maison Vermeil', category: 'Shoes' },
  { sku: 'SH-2', vector: [0, 1, 0, 0, 0], name: 'Wild Thing', brand: 'Maison Vermeil', category: 'Shoes' },
  // Name and brand as a feed may send them: decomposed (a + U+0302, E + U+0301).
  {
    sku: 'SH-3',
    vector: [0, 0, 1, 0, 0],
    name: 'Pa\u0302querette Mule',
    brand: 'CHLOE\u0301',
    category: 'shoes',
  },
  { sku: 'BG-1', vector: [0, 0, 0, 1, 0], name: 'Straße Tote', brand: 'Łukasz', category: 'Bags' },
  { sku: 'CT-1', vector: [0, 0, 0, 0, 1], name: 'Ørsted Coat', brand: 'Æsir', category: 'Outerwear' },
];

/** Photos and the SKU each is a photo of: one clear photo per product, and one between the two boots. */
const PHOTOS: Array<{ vector: number[]; sku: string }> = [
  ...PRODUCTS.map((p, i) => ({
    vector: p.vector.map((x, j) => x + (j === (i + 1) % 5 ? 0.05 : 0)),
    sku: p.sku,
  })),
  { vector: [0.5, 0.48, 0, 0, 0], sku: 'SH-2' }, // really the Wild Thing; matched to SH-1 by a hair
];

function windowOf(product: TestProduct): TrendWindow {
  return {
    windowId: `${product.sku}|global|${TAKEN}|3600000`,
    sku: product.sku,
    scope: 'global',
    windowStart: TAKEN,
    windowEnd: '2026-11-20T11:00:00.000Z',
    sizeMs: 3_600_000,
    signals: 6,
    weightedCount: 9,
    distinctMembers: 5,
    countsByKind: { upload: 6 },
    baseline: 2,
    score: 0.99,
    pValue: 0.001,
    rising: true,
    category: product.category,
    name: product.name,
    brand: product.brand,
    emittedAt: '2026-11-20T11:00:05.000Z',
  };
}

function alertOf(product: TestProduct): ReorderAlert {
  return {
    alertId: `${product.sku}|${TAKEN}|new|P2`,
    episodeId: `${product.sku}|${TAKEN}`,
    sku: product.sku,
    status: 'new',
    priority: 'P2',
    product: {
      style: null,
      colour: null,
      name: product.name,
      category: product.category,
      brand: product.brand,
      price: 120,
    },
    score: 0.99,
    pValue: 0.001,
    uplift: 4.5,
    windowStart: TAKEN,
    windowEnd: '2026-11-20T11:00:00.000Z',
    series: [],
    topRegions: [{ country: 'GB', signals: 6, share: 1 }],
    photos: [],
    distinctMembers: 5,
    stock: null,
    suggestedReorderQty: 30,
    raisedAt: '2026-11-20T11:00:06.000Z',
  };
}

let mentions: Mention[] = [];

beforeAll(async () => {
  const memory = memoryOf(PRODUCTS);
  mentions = await embedderMentions(
    memory,
    PHOTOS.map((p) => p.vector),
    { policy: { threshold: 0.5, margin: 0.02 } },
  );
  const record = (value: Buffer) => ({ key: null, value });
  await indexForQueries(es, prefix, now, [
    ...mentions.map((m) => actionFor('mentions', prefix, record(encode(Mention, m)))),
    ...PRODUCTS.map((p) =>
      actionFor('trend-windows', prefix, record(encode(TrendWindowSchema, windowOf(p)))),
    ),
    ...PRODUCTS.map((p) =>
      actionFor('reorder-alerts', prefix, record(encode(ReorderAlertSchema, alertOf(p)))),
    ),
  ]);
});

const olderPrefix = uniqueNamespace('findproduct-older');

afterAll(async () => {
  await deleteIndices(es, prefix);
  await deleteIndices(es, olderPrefix);
  await es.close();
});

/** KQL as the dashboard's query bar sends it: `a : "b c"`, `a : b`, `a < 1`, joined by `and`. */
function kql(query: string): Record<string, unknown> {
  const clauses = query.split(/\s+and\s+/).map((clause) => {
    const range = /^([\w.]+)\s*(<=|>=|<|>)\s*(\S+)$/.exec(clause);
    if (range) {
      const op = { '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' }[range[2]!]!;
      return { range: { [range[1]!]: { [op]: Number(range[3]) } } };
    }
    const match = /^([\w.]+)\s*:\s*(?:"([^"]*)"|(\S+))$/.exec(clause);
    if (!match) throw new Error(`unsupported KQL ${clause}`);
    return match[2] !== undefined
      ? { match_phrase: { [match[1]!]: match[2] } }
      : { match: { [match[1]!]: match[3] } };
  });
  return { bool: { filter: clauses } };
}

type Family = 'trend-windows' | 'reorder-alerts' | 'mentions';
const FAMILIES: Family[] = ['trend-windows', 'reorder-alerts', 'mentions'];

/** The SKUs of the documents the query finds in a family (sorted, each once). */
async function skus(family: Family, query: string): Promise<string[]> {
  const response = await es.search({
    index: `${prefix}-${family}`,
    size: 100,
    query: kql(query) as never,
    _source: ['sku'],
  });
  return [...new Set(response.hits.hits.map((h) => (h._source as { sku: string }).sku))].sort();
}

/** What one dashboard query finds in each of the dashboard's data views with a product. */
async function everywhere(query: string): Promise<Record<Family, string[]>> {
  const found = await Promise.all(FAMILIES.map((family) => skus(family, query)));
  return Object.fromEntries(FAMILIES.map((family, i) => [family, found[i]!])) as Record<Family, string[]>;
}

describe('one product query finds windows, alerts and mentions (finding 1)', () => {
  it('matches the photos to the products they show, so the mentions are the right ones', () => {
    expect(mentions.map((m) => (m.kind === 'mention' ? m.sku : 'none'))).toEqual([
      'SH-1',
      'SH-2',
      'SH-3',
      'BG-1',
      'CT-1',
      'SH-1',
    ]);
  });

  it('product.name : "wild thing" finds the product in every family', async () => {
    expect(await everywhere('product.name : "wild thing"')).toEqual({
      'trend-windows': ['SH-2'],
      'reorder-alerts': ['SH-2'],
      mentions: ['SH-2'],
    });
    expect(await everywhere('product.name : boot')).toEqual({
      'trend-windows': ['SH-1'],
      'reorder-alerts': ['SH-1'],
      mentions: ['SH-1'],
    });
  });

  it('product.brand : "Maison Vermeil" finds its products in every family', async () => {
    const both = ['SH-1', 'SH-2'];
    expect(await everywhere('product.brand : "Maison Vermeil"')).toEqual({
      'trend-windows': both,
      'reorder-alerts': both,
      mentions: both,
    });
  });

  it('category : shoes keeps the alerts and the mentions, whatever case the catalogue wrote', async () => {
    const shoes = ['SH-1', 'SH-2', 'SH-3'];
    expect(await everywhere('category : shoes')).toEqual({
      'trend-windows': shoes,
      'reorder-alerts': shoes,
      mentions: shoes,
    });
    expect(await everywhere('category : shoes and product.brand : "Maison Vermeil"')).toEqual({
      'trend-windows': ['SH-1', 'SH-2'],
      'reorder-alerts': ['SH-1', 'SH-2'],
      mentions: ['SH-1', 'SH-2'],
    });
  });
});

describe('weak matches are visible (finding 2)', () => {
  it('margin < 0.05 finds the photo that sat between two products, and only it', async () => {
    const response = await es.search({
      index: `${prefix}-mentions`,
      size: 100,
      query: kql('kind : mention and margin < 0.05') as never,
      _source: ['photoId', 'sku', 'score', 'margin'],
    });
    const weak = response.hits.hits.map((h) => h._source as { photoId: string; sku: string; margin: number });
    // The photos matched to another product than the one they show: the filter finds exactly those.
    const wrong = mentions.flatMap((m, i) =>
      m.kind === 'mention' && m.sku !== PHOTOS[i]!.sku ? [[`${m.uploadEventId}:${m.imageIndex}`, m.sku]] : [],
    );
    expect(wrong).toEqual([['evt-1:5', 'SH-1']]);
    expect(weak.map((w) => [w.photoId, w.sku])).toEqual(wrong);
    expect(weak[0]!.margin).toBeGreaterThanOrEqual(0.02); // it cleared the policy's margin, barely
    expect(await skus('mentions', 'kind : mention and margin >= 0.05')).toEqual([
      'BG-1',
      'CT-1',
      'SH-1',
      'SH-2',
      'SH-3',
    ]);
  });
});

describe('name and brand without accents, in any case, everywhere (finding 3)', () => {
  const cases: Array<[query: string, sku: string]> = [
    ['product.nameFolded : paquerette', 'SH-3'],
    ['product.nameFolded : soren', 'SH-1'],
    ['product.nameFolded : strasse', 'BG-1'],
    ['product.nameFolded : orsted', 'CT-1'],
    ['product.brandFolded : lukasz', 'BG-1'],
    ['product.brandFolded : chloe', 'SH-3'],
    ['product.brandFolded : aesir', 'CT-1'],
  ];
  for (const [query, sku] of cases) {
    it(`${query} finds ${sku} in windows, alerts and mentions`, async () => {
      expect(await everywhere(query)).toEqual({
        'trend-windows': [sku],
        'reorder-alerts': [sku],
        mentions: [sku],
      });
    });
  }

  it('product.brandFolded : "maison vermeil" finds the brand typed in lower case', async () => {
    const both = ['SH-1', 'SH-2'];
    expect(await everywhere('product.brandFolded : "maison vermeil"')).toEqual({
      'trend-windows': both,
      'reorder-alerts': both,
      mentions: both,
    });
  });

  it('a name and brand the catalogue sent decomposed are found typed composed', async () => {
    for (const query of ['product.name : "pâquerette"', 'product.brand : "CHLOÉ"']) {
      expect([query, await everywhere(query)]).toEqual([
        query,
        { 'trend-windows': ['SH-3'], 'reorder-alerts': ['SH-3'], mentions: ['SH-3'] },
      ]);
    }
  });

  it('keeps the catalogue spelling where tables show it (terms on product.brand)', async () => {
    const response = await es.search({
      index: `${prefix}-mentions`,
      size: 0,
      aggs: { brands: { terms: { field: 'product.brand', size: 10 } } },
    });
    const buckets = (response.aggregations!.brands as { buckets: Array<{ key: string }> }).buckets;
    expect(buckets.map((b) => b.key).sort()).toEqual(['CHLOÉ', 'Maison Vermeil', 'Æsir', 'Łukasz'].sort());
  });
});

describe('indices made before these fields', () => {
  /** The mapping without the given top-level fields and `product.*` fields (as it was before them). */
  function without(
    mapping: Record<string, unknown>,
    fields: string[],
    productFields: string[] = [],
  ): Record<string, unknown> {
    const copy = structuredClone(mapping) as { properties: Record<string, { properties?: object }> };
    for (const field of fields) delete copy.properties[field];
    const product = copy.properties.product?.properties as Record<string, unknown> | undefined;
    for (const field of productFields) if (product) delete product[field];
    return copy;
  }

  it('get them from `es apply` (which the indexer runs at start), no rebuild, and take the new documents', async () => {
    const mentionsIndex = monthlyIndex(olderPrefix, 'mentions', TAKEN);
    const alertsIndex = monthlyIndex(olderPrefix, 'reorder-alerts', '2026-11-20T11:00:00.000Z');
    // As the templates made them: the shared settings (the lower-case normalizer) and the alias.
    const settings = { analysis: commonSettings.analysis } as never;
    await es.indices.create({
      index: mentionsIndex,
      settings,
      aliases: { [aliasName(olderPrefix, 'mentions')]: {} },
      mappings: without(mentionsMapping, ['margin', 'product', 'category']) as never,
    });
    await es.indices.create({
      index: alertsIndex,
      settings,
      aliases: { [aliasName(olderPrefix, 'reorder-alerts')]: {} },
      mappings: without(reorderAlertsMapping, ['category'], ['nameFolded', 'brandFolded']) as never,
    });
    const changes = await applyIndices(es, { prefix: olderPrefix, retentionDays: 400, now });
    expect(changes.filter((c) => c.action === 'drift')).toEqual([]);
    expect(changes).toContainEqual({
      target: `index ${mentionsIndex}`,
      action: 'fields-added',
      detail: 'margin, product, category',
    });
    expect(changes).toContainEqual({
      target: `index ${alertsIndex}`,
      action: 'fields-added',
      detail: 'product, category',
    });
    const record = (value: Buffer) => ({ key: null, value });
    const results = await indexUntilSettled(
      es,
      [
        ...mentions.map((m) => actionFor('mentions', olderPrefix, record(encode(Mention, m)))),
        actionFor('reorder-alerts', olderPrefix, record(encode(ReorderAlertSchema, alertOf(PRODUCTS[0]!)))),
      ],
      { backoff: { initialMs: 100, maxMs: 1000 } },
    );
    expect(results.filter((r) => r.status !== 'indexed')).toEqual([]);
    await es.indices.refresh({ index: `${olderPrefix}-*` });
    for (const family of ['mentions', 'reorder-alerts']) {
      const response = await es.search({
        index: `${olderPrefix}-${family}`,
        query: kql('product.nameFolded : soren and category : shoes') as never,
        _source: ['sku'],
      });
      expect([
        family,
        [...new Set(response.hits.hits.map((h) => (h._source as { sku: string }).sku))],
      ]).toEqual([family, ['SH-1']]);
    }
  });
});
