/**
 * Kibana cannot run here, so each panel's request (its aggregations and filters, translated from
 * the saved object in infra/kibana/trend-radar.ndjson) runs against the real Elasticsearch on the
 * simulated run, through the aliases the data views name, and must return the expected shape.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataViewOf, kqlTerms, lensRequest, termsQuery } from '../../../infra/kibana/checks.ts';
import type { SavedObject } from '../../../infra/kibana/saved-objects.ts';
import { withIndexPrefix } from '../../../services/indexer/kibana-import.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { seedIndices } from '../indexer/harness.ts';
import { buildScenario } from '../indexer/scenario.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('kibana');
const es = createElasticsearch(elasticsearchUrl);
const scenario = buildScenario();
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

beforeAll(async () => {
  const results = await seedIndices(es, prefix, scenario, { catalogue: false });
  expect(results.filter((r) => r.status !== 'indexed')).toEqual([]);
});

afterAll(async () => {
  await deleteIndices(es, prefix);
  await es.close();
});

describe('Micro-trends panels on the real node', () => {
  it('rising products table: one row per rising SKU with score, signals and members', async () => {
    const rows = await runLens('trend-radar-lens-rising-products');
    expect(
      rows.map((r) => [
        r.key,
        (r.maxScore as { value: number }).value,
        (r.signals as { value: number }).value,
      ]),
    ).toEqual([['BAG-1', 8, 70]]);
    expect((rows[0]!.members as { value: number }).value).toBe(20);
  });

  it('trend lines: per hour, the top SKUs with their weighted signals', async () => {
    const hours = await runLens('trend-radar-lens-top-sku-trends');
    expect(hours).toHaveLength(6);
    for (const hour of hours) {
      const skus = (hour.sku as { buckets: Bucket[] }).buckets;
      expect(skus.map((s) => s.key).sort()).toEqual(['BAG-1', 'COAT-1', 'SHOE-1']);
    }
    const last = (hours.at(-1)!.sku as { buckets: Bucket[] }).buckets;
    expect(last[0]).toMatchObject({ key: 'BAG-1', weighted: { value: 60 } });
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
  it('alerts by priority over time', async () => {
    const hours = await runLens('trend-radar-lens-alerts-by-priority');
    const priorities = hours.flatMap((h) =>
      (h.priority as { buckets: Bucket[] }).buckets.map((p) => [p.key, p.doc_count]),
    );
    expect(priorities.sort()).toEqual([
      ['P1', 1],
      ['P2', 1],
    ]);
  });

  it('alerted SKUs with uplift, suggested quantity and days of cover', async () => {
    const rows = await runLens('trend-radar-lens-alerts-by-sku');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key: 'BAG-1', doc_count: 2, qty: { value: 40 }, cover: { value: 6 } });
    expect((rows[0]!.uplift as { value: number }).value).toBeCloseTo(6.5);
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
