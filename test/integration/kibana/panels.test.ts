/**
 * Kibana cannot run here, so each panel's request (its aggregations and filters, translated from
 * the saved object in infra/kibana/trend-radar.ndjson) runs against the real Elasticsearch on the
 * simulated run, through the aliases the data views name, and must return the expected shape.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataViewOf, kqlTerms, lensRequest, termsQuery } from '../../../infra/kibana/checks.ts';
import type { SavedObject } from '../../../infra/kibana/saved-objects.ts';
import { enrichAction } from '../../../services/indexer/documents.ts';
import { withIndexPrefix } from '../../../services/indexer/kibana-import.ts';
import type { ReorderAlert, TrendWindow } from '../../../shared/contracts/events.ts';
import { indexUntilSettled } from '../../../shared/elasticsearch/bulk.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { reorderAlertAction, trendWindowAction } from '../../../shared/elasticsearch/documents.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { seedIndices } from '../indexer/harness.ts';
import { buildScenario, PRODUCTS } from '../indexer/scenario.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('kibana');
const es = createElasticsearch(elasticsearchUrl);
const scenario = buildScenario();
// Window records name their product (the catalogue's name and brand), as the aggregator writes them.
for (const w of scenario.windows)
  Object.assign(w, { name: PRODUCTS[w.sku as keyof typeof PRODUCTS].name, brand: 'Luma' });
const HOUR = 3_600_000;
// The episode's escalation an hour after it was raised, with the stock running down: 7.9 days of
// cover at the alert, 3.3 at the escalation (the demo's SH001-RED; an average said 5.6).
{
  const [raised, escalated] = scenario.alerts as [ReorderAlert, ReorderAlert];
  raised.stock = { ...raised.stock!, daysOfCover: 7.9 };
  escalated.stock = { ...escalated.stock!, daysOfCover: 3.3 };
  escalated.windowStart = new Date(scenario.now.getTime() - HOUR).toISOString();
  escalated.windowEnd = scenario.now.toISOString();
}
// The objects as `kibana import` would send them for this prefix.
const objects = withIndexPrefix(readFileSync('infra/kibana/trend-radar.ndjson', 'utf8'), prefix)
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as SavedObject);
const byId = (id: string) => objects.find((o) => o.id === id)!;
const timeRange = {
  range: {
    '@timestamp': {
      gte: new Date(scenario.now.getTime() - 24 * 3_600_000).toISOString(),
      lte: scenario.now.toISOString(),
    },
  },
};

type Bucket = { key: string | number; key_as_string?: string; doc_count: number } & Record<string, unknown>;

const hoursAgo = (hours: number) => new Date(scenario.now.getTime() - hours * HOUR).toISOString();

/** A table's rows: its bucket keys down to the deepest bucket, and that bucket. */
function tableRows(buckets: Bucket[], path: string[] = []): Array<{ keys: string[]; row: Bucket }> {
  return buckets.flatMap((bucket) => {
    const keys = [...path, String(bucket.key)];
    const inner = Object.values(bucket).find(
      (v): v is { buckets: Bucket[] } => typeof v === 'object' && v !== null && 'buckets' in v,
    );
    return inner ? tableRows(inner.buckets, keys) : [{ keys, row: bucket }];
  });
}

async function runLens(id: string): Promise<Bucket[]> {
  const lens = byId(id);
  const { query, aggs } = lensRequest(lens);
  const response = await es.search({
    index: String(dataViewOf(lens, objects).attributes.title),
    size: 0,
    query: { bool: { filter: [query as never, timeRange] } },
    aggs: aggs as never,
  });
  const [first] = Object.keys(aggs);
  return (response.aggregations![first!] as { buckets: Bucket[] }).buckets;
}

/**
 * What the aggregator writes besides the scenario's tumbling-looking hourly windows: hopping
 * windows overlapping them (one hour, starting every five minutes: here one at half past) and
 * daily windows, whose counts and scores are on another scale; and SKUs with a better score than
 * the shoe and the coat in one hour only (the top 5 by score over the range is BAG-1 and these).
 */
function extraWindows(): TrendWindow[] {
  const at = (hoursAgo: number) => new Date(scenario.now.getTime() - hoursAgo * HOUR).toISOString();
  const bag = scenario.windows.find((w) => w.sku === 'BAG-1' && w.scope === 'global')!;
  const window = (
    sku: string,
    startHoursAgo: number,
    sizeMs: number,
    signals: number,
    score: number,
    rising = true,
  ) => ({
    ...bag,
    windowId: `${sku}|global|${at(startHoursAgo)}|${sizeMs}`,
    sku,
    windowStart: at(startHoursAgo),
    windowEnd: new Date(Date.parse(at(startHoursAgo)) + sizeMs).toISOString(),
    sizeMs,
    signals,
    weightedCount: signals * 1.5,
    distinctMembers: Math.ceil(signals / 2),
    score,
    rising,
    // Each SKU's own product: the extra ones have no name (windows from before names, or a SKU
    // the catalogue does not name) but one, with an accented name and brand.
    ...(sku in PRODUCTS
      ? { name: PRODUCTS[sku as keyof typeof PRODUCTS].name }
      : sku === 'EXTRA-1'
        ? { name: 'Sandália Pâquerette', brand: 'Chloé' }
        : { name: undefined, brand: undefined }),
  });
  return [
    // Overlaps the BAG-1 windows starting 2 h and 1 h ago (30 and 40 signals).
    window('BAG-1', 1.5, HOUR, 35, 7.5),
    // A day: many more signals, a score on another scale.
    window('BAG-1', 5, 24 * HOUR, 300, 20),
    window('COAT-1', 5, 24 * HOUR, 90, 30),
    ...[2.4, 2.3, 2.2, 2.1].map((score, i) => window(`EXTRA-${i + 1}`, 6, HOUR, 3, score, false)),
  ];
}

/**
 * Besides the scenario's raised (P2) and escalated (P1) alert of one BAG-1 episode: the same
 * episode cooling down half an hour later (nothing raised), which the alert panels must not count.
 */
function cooledAlert(): ReorderAlert {
  const escalated = scenario.alerts.find((a) => a.status === 'escalated')!;
  const windowEnd = new Date(scenario.now.getTime() - 0.5 * HOUR).toISOString();
  return {
    ...escalated,
    alertId: `${escalated.episodeId}|cooled|P2`,
    status: 'cooled',
    priority: 'P2',
    uplift: 1.1,
    windowStart: new Date(Date.parse(windowEnd) - HOUR).toISOString(),
    windowEnd,
    raisedAt: windowEnd,
  };
}

beforeAll(async () => {
  const results = await seedIndices(es, prefix, scenario, { catalogue: false });
  expect(results.filter((r) => r.status !== 'indexed')).toEqual([]);
  const extra = await indexUntilSettled(
    es,
    [
      ...extraWindows().map((w) => trendWindowAction(prefix, w)),
      reorderAlertAction(prefix, cooledAlert()),
    ].map((a) => enrichAction(a)),
    { backoff: { initialMs: 100, maxMs: 1000 } },
  );
  expect(extra.filter((r) => r.status !== 'indexed')).toEqual([]);
  await es.indices.refresh({ index: `${prefix}-*` });
});

afterAll(async () => {
  await deleteIndices(es, prefix);
  await es.close();
});

describe('Micro-trends panels on the real node', () => {
  it('rising products table: a row per SKU and country where it rose, figures of that busiest rising window', async () => {
    const rows = tableRows(await runLens('trend-radar-lens-rising-products'));
    // The aggregator's rising country windows: the bag in France and Britain (not Italy), the shoe
    // in France; 60 weighted signals (the window starting an hour ago, 15× its baseline), not the
    // daily windows' 450 nor a sum over overlapping windows.
    expect(
      rows.map(({ keys, row }) => [
        ...keys.slice(0, 2),
        (row.weighted as { value: number }).value,
        (row.uplift as { value: number }).value,
        (row.members as { value: number }).value,
      ]),
    ).toEqual([
      ['BAG-1', 'FR', 60, 15, 20],
      ['BAG-1', 'GB', 60, 15, 20],
      ['SHOE-1', 'FR', 60, 15, 20],
    ]);
    // The one window the figures come from.
    expect(rows[0]!.keys[2]).toBe(`BAG-1|country:FR|${hoursAgo(1)}|${HOUR}`);
    expect((rows[0]!.row.hour as { value_as_string: string }).value_as_string).toBe(hoursAgo(1));
  });

  it('hot products and rising products: each SKU with its product name and brand beside it', async () => {
    const label = (row: Bucket, column: string) =>
      (row[column] as { value: { hits: { hits: Array<{ fields?: Record<string, string[]> }> } } }).value.hits
        .hits[0]?.fields?.[column === 'name' ? 'product.name.keyword' : 'product.brand']?.[0];
    const hot = tableRows(await runLens('trend-radar-lens-hot-products'));
    // The label sits under the busiest window's bucket.
    expect(hot.map(({ keys, row }) => [keys[0], label(row, 'name'), label(row, 'brand')])).toEqual([
      ['BAG-1', 'Quilted leather tote', 'Luma'],
      ['SHOE-1', 'Red satin pump', 'Luma'],
      ['COAT-1', 'Camel wool coat', 'Luma'],
      ['EXTRA-1', 'Sandália Pâquerette', 'Chloé'],
      // No name: the SKU keeps its row, with an empty label.
      ['EXTRA-2', undefined, undefined],
      ['EXTRA-3', undefined, undefined],
      ['EXTRA-4', undefined, undefined],
    ]);
    const rising = tableRows(await runLens('trend-radar-lens-rising-products'));
    expect(rising.map(({ keys, row }) => [keys[0], label(row, 'name'), label(row, 'brand')])).toEqual([
      ['BAG-1', 'Quilted leather tote', 'Luma'],
      ['BAG-1', 'Quilted leather tote', 'Luma'],
      ['SHOE-1', 'Red satin pump', 'Luma'],
    ]);
  });

  it('hot products: one row per SKU, its figures from its busiest hourly window', async () => {
    const rows = tableRows(await runLens('trend-radar-lens-hot-products'));
    const bag = rows[0]!;
    // 60 weighted signals: the hour starting an hour ago (the overlapping window at 1.5 h has
    // 52.5), its 40 signals and 20 members. Its global, GB and FR windows tie here (all its
    // signals of that hour from each, in this small scenario): the first by id is shown.
    expect(bag.keys).toEqual(['BAG-1', `BAG-1|country:FR|${hoursAgo(1)}|${HOUR}`]);
    expect(['weighted', 'signals', 'members'].map((id) => (bag.row[id] as { value: number }).value)).toEqual([
      60, 40, 20,
    ]);
    expect(new Set(rows.map((r) => r.keys[0])).size).toBe(rows.length);
  });

  it('trend lines: the top 5 SKUs by their busiest hour over the range, each with its line per hour', async () => {
    const skus = await runLens('trend-radar-lens-top-sku-trends');
    // Ranked once over the whole range by activity, not by score: the extra SKUs score better
    // than the shoe and the coat but have 4.5 weighted signals in their one hour.
    expect(skus.map((s) => s.key)).toEqual(['BAG-1', 'SHOE-1', 'COAT-1', 'EXTRA-1', 'EXTRA-2']);
    const bag = (skus[0]!.time as { buckets: Bucket[] }).buckets;
    expect(bag).toHaveLength(6);
    const weighted = bag.map((b) => (b.weighted as { value: number }).value);
    // Hourly windows only, the busiest per bucket: 45 and 52.5 (the overlapping window) make
    // 52.5, not 97.5; the daily window (450) is left out.
    expect(weighted).toEqual([6, 6, 6, 6, 52.5, 60]);
  });

  it('rising SKUs by region', async () => {
    const rows = await runLens('trend-radar-lens-rising-by-region');
    expect(rows.map((r) => [r.key, (r.skus as { value: number }).value])).toEqual([
      ['FR', 2],
      ['GB', 1],
    ]);
  });

  it('top hashtags, case folded', async () => {
    const rows = await runLens('trend-radar-lens-top-hashtags');
    expect(rows.slice(0, 3).map((r) => [r.key, r.doc_count])).toEqual([
      ['totebag', 3],
      ['autumn', 2],
      ['redshoes', 2],
    ]);
  });

  it('map of mentions: a geotile grid over location.point with counts', async () => {
    const map = byId('trend-radar-map-mentions');
    const layer = (
      JSON.parse(String(map.attributes.layerListJSON)) as Array<{ sourceDescriptor: { geoField?: string } }>
    ).find((l) => l.sourceDescriptor.geoField)!;
    const state = JSON.parse(String(map.attributes.mapStateJSON)) as { query: { query: string } };
    const response = await es.search({
      index: String(dataViewOf(map, objects).attributes.title),
      size: 0,
      query: { bool: { filter: [termsQuery(kqlTerms(state.query.query)) as never, timeRange] } },
      aggs: {
        grid: {
          geotile_grid: { field: layer.sourceDescriptor.geoField!, precision: 7 },
          aggs: { centroid: { geo_centroid: { field: layer.sourceDescriptor.geoField! } } },
        },
      },
    });
    const cells = (response.aggregations!.grid as { buckets: Bucket[] }).buckets;
    expect(cells).toHaveLength(3); // London, Paris, Milan
    expect(cells.reduce((sum, c) => sum + c.doc_count, 0)).toBe(9); // the no-match photo has no coordinates
  });
});

describe('Alerts panels on the real node', () => {
  it('alerts by priority over time: raised and escalated episodes, not the cooled record', async () => {
    const hours = await runLens('trend-radar-lens-alerts-by-priority');
    const priorities = hours.flatMap((h) =>
      (h.priority as { buckets: Bucket[] }).buckets.map((p) => [
        p.key,
        (p.alerts as { value: number }).value,
      ]),
    );
    // The cooled record (P2, another hour) would add a second P2 bar.
    expect(priorities.sort()).toEqual([
      ['P1', 1],
      ['P2', 1],
    ]);
  });

  it('alerted SKUs with uplift, suggested quantity and the latest days of cover', async () => {
    const rows = await runLens('trend-radar-lens-alerts-by-sku');
    expect(rows).toHaveLength(1);
    // One episode (raised, then escalated; its cooled record left out), not three alerts.
    expect(rows[0]).toMatchObject({
      key: 'BAG-1',
      doc_count: 2,
      alerts: { value: 1 },
      qty: { value: 40 },
    });
    expect((rows[0]!.uplift as { value: number }).value).toBeCloseTo(6.5);
    // The escalation's 3.3 days, not the mean of the episode's records (5.6).
    const cover = rows[0]!.cover as {
      value: { hits: { hits: Array<{ fields: Record<string, number[]> }> } };
    };
    expect(cover.value.hits.hits[0]!.fields['stock.daysOfCover']![0]).toBeCloseTo(3.3);
  });

  it('buyer responses', async () => {
    const rows = await runLens('trend-radar-lens-actions-by-buyer');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key: 'buyer@example.com', ordered: { value: 40 } });
    expect((rows[0]!.action as { buckets: Bucket[] }).buckets.map((b) => b.key)).toEqual(['ordered']);
  });
});

describe('saved searches on the real node', () => {
  for (const id of [
    'trend-radar-search-alerts',
    'trend-radar-search-mentions',
    'trend-radar-search-alert-actions',
    'trend-radar-search-trend-windows',
  ]) {
    it(`${id}: newest first, every column present`, async () => {
      const search = byId(id);
      const source = JSON.parse(
        String((search.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON),
      ) as { query: { query: string } };
      const columns = search.attributes.columns as string[];
      const response = await es.search<Record<string, unknown>>({
        index: String(dataViewOf(search, objects).attributes.title),
        query: { bool: { filter: [termsQuery(kqlTerms(source.query.query)) as never, timeRange] } },
        sort: (search.attributes.sort as Array<[string, 'asc' | 'desc']>).map(([field, order]) => ({
          [field]: order,
        })),
        fields: columns,
        _source: false,
      });
      const hits = response.hits.hits;
      expect(hits.length).toBeGreaterThan(0);
      for (const column of columns) expect(hits.some((h) => h.fields?.[column] !== undefined)).toBe(true);
      const times = hits.map((h) => Number(h.sort![0]));
      expect(times).toEqual([...times].sort((a, b) => b - a));
    });
  }

  it('the alerts list links to the photos', async () => {
    const response = await es.search<{ firstPhotoUrl: string }>({
      index: `${prefix}-reorder-alerts`,
      query: { match_all: {} },
    });
    for (const hit of response.hits.hits)
      expect(hit._source!.firstPhotoUrl).toMatch(/^https:\/\/cdn\.example\.com\/posts\//);
  });
});

describe('finding a product by name or brand on the real node', () => {
  /**
   * A KQL clause as Kibana sends it: `field : "a phrase"` is a match_phrase, `field : word` a
   * match (the field's analyzer or normalizer applies to the query too).
   */
  const kql = (field: string, value: string, quoted: boolean) =>
    quoted ? { match_phrase: { [field]: value } } : { match: { [field]: value } };

  async function find(query: object): Promise<Array<{ index: string; sku: string }>> {
    const indices = ['trend-radar-trend-windows', 'trend-radar-reorder-alerts'].map((id) =>
      String(byId(id).attributes.title),
    );
    const response = await es.search<{ sku: string }>({
      index: indices.join(','),
      size: 1000,
      query: { bool: { filter: [query as never, timeRange] } },
    });
    return response.hits.hits.map((h) => ({
      index: h._index.includes('-trend-windows-') ? 'trend-windows' : 'reorder-alerts',
      sku: h._source!.sku,
    }));
  }

  it('one query, `product.name : "quilted leather tote"`, finds the windows and the alerts of that product', async () => {
    const hits = await find(kql('product.name', 'quilted leather tote', true));
    expect(new Set(hits.map((h) => h.sku))).toEqual(new Set(['BAG-1']));
    expect(new Set(hits.map((h) => h.index))).toEqual(new Set(['trend-windows', 'reorder-alerts']));
    // Every BAG-1 window of the scenario (24 hourly windows) and the overlapping and daily ones.
    expect(hits.filter((h) => h.index === 'trend-windows')).toHaveLength(26);
    // A word of the name is enough.
    const word = await find(kql('product.name', 'tote', false));
    expect(word).toHaveLength(hits.length);
  });

  it('by brand, exactly or lower-cased without accents; by name without accents', async () => {
    const luma = await find(kql('product.brand', 'Luma', true));
    expect(new Set(luma.map((h) => h.sku))).toEqual(new Set(['BAG-1', 'SHOE-1', 'COAT-1']));
    for (const query of [
      kql('product.brandFolded', 'chloe', false),
      kql('product.brandFolded', 'CHLOE', false),
      kql('product.nameFolded', 'paquerette', false),
      kql('product.nameFolded', 'sandalia paquerette', true),
      kql('product.name', 'Pâquerette', false),
    ])
      expect([query, (await find(query)).map((h) => h.sku)]).toEqual([query, ['EXTRA-1']]);
    // Accents matter on the unfolded field: that is what the folded ones are for.
    expect(await find(kql('product.name', 'paquerette', false))).toEqual([]);
  });
});
