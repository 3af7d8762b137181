import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  danglingRefNames,
  fieldProblems,
  fieldType,
  fieldUses,
  kqlTerms,
  type LensLayer,
  lensLayers,
  lensRequest,
  termsQuery,
  unresolvedReferences,
} from '../../../infra/kibana/checks.ts';
import { type SavedObject, savedObjects, toNdjson } from '../../../infra/kibana/saved-objects.ts';

const file = new URL('../../../infra/kibana/trend-radar.ndjson', import.meta.url);
const committed = readFileSync(file, 'utf8');
const objects = committed
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as SavedObject);

describe('infra/kibana/trend-radar.ndjson', () => {
  it('is what saved-objects.ts generates (run `trend-radar kibana generate` after a change)', () => {
    expect(committed).toBe(toNdjson(savedObjects()));
  });

  it('has unique ids per type and the two dashboards', () => {
    const keys = objects.map((o) => `${o.type}:${o.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(objects.filter((o) => o.type === 'dashboard').map((o) => o.attributes.title)).toEqual([
      'Micro-trends',
      'Alerts',
    ]);
  });

  it('resolves every reference inside the file, and every reference name the bodies use', () => {
    expect(unresolvedReferences(objects)).toEqual([]);
    expect(danglingRefNames(objects)).toEqual([]);
  });

  it('uses only fields the index templates map, with a type the use can aggregate', () => {
    expect(fieldUses(objects).length).toBeGreaterThan(40);
    expect(fieldProblems(objects)).toEqual([]);
  });

  it('puts the panels the issue asks for on the Micro-trends dashboard', () => {
    const dashboard = objects.find((o) => o.id === 'trend-radar-dashboard-micro-trends')!;
    const panels = dashboard.references.map((r) => objects.find((o) => o.id === r.id)!);
    expect(panels.map((p) => p.attributes.title)).toEqual([
      'Hot products (weighted signals in the busiest hour)',
      'Top SKUs over time (weighted signals per hour)',
      'Rising products (where the aggregator found them rising)',
      'Rising SKUs by region',
      'Rising categories',
      'Mentions by location',
      'Top hashtags',
      'Reorder alerts (with photos)',
      'Mentions (photos matched to SKUs)',
    ]);
    const alertsList = panels.find((p) => p.type === 'search' && p.id === 'trend-radar-search-alerts')!;
    expect(alertsList.attributes.columns).toContain('firstPhotoUrl');
    expect(alertsList.attributes.columns).toContain('firstPhotoLink');
    const alertsView = objects.find((o) => o.id === 'trend-radar-reorder-alerts')!;
    const formats = JSON.parse(String(alertsView.attributes.fieldFormatMap));
    expect(formats.firstPhotoUrl.id).toBe('url');
    // Kibana URL-encodes `{{value}}` in a URL template: a whole URL must be the value itself.
    expect(formats.firstPhotoUrl.params.urlTemplate).toBeUndefined();
    expect(formats.firstPhotoLink).toEqual({ id: 'url', params: { type: 'img', width: 160, height: 160 } });
  });

  it('every data view has the common country field, for one dashboard filter', () => {
    for (const family of ['posts', 'mentions', 'trend-windows', 'reorder-alerts'] as const)
      expect([family, fieldType(family, 'country')]).toEqual([family, 'keyword']);
  });

  it("the trend tables name each SKU's product and brand beside it, without splitting or dropping rows", () => {
    for (const id of ['trend-radar-lens-hot-products', 'trend-radar-lens-rising-products']) {
      const lens = objects.find((o) => o.id === id)!;
      const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
      // A label (Lens "last value": the newest window that has one), not a terms bucket: a SKU
      // without a name keeps its row and a renamed one is not listed twice.
      expect([id, layer.columns.name]).toMatchObject([
        id,
        { operationType: 'last_value', sourceField: 'product.name.keyword', isBucketed: false },
      ]);
      expect(layer.columns.brand).toMatchObject({
        operationType: 'last_value',
        sourceField: 'product.brand',
        isBucketed: false,
        params: { sortField: '@timestamp', showArrayValues: true },
      });
      const buckets = layer.columnOrder.filter((c) => layer.columns[c]!.isBucketed);
      expect(buckets[0]).toBe('sku');
      const shown = (lens.attributes.state as { visualization: { columns: Array<{ columnId: string }> } })
        .visualization.columns;
      expect(shown.slice(0, 3).map((c) => c.columnId)).toEqual(['sku', 'name', 'brand']);
    }
  });

  it("the rising panels read the aggregator's verdict (`rising`), not a ratio to the baseline", () => {
    for (const id of [
      'trend-radar-lens-rising-products',
      'trend-radar-lens-rising-by-region',
      'trend-radar-lens-rising-categories',
    ]) {
      const lens = objects.find((o) => o.id === id)!;
      const terms = kqlTerms((lens.attributes.state as { query: { query: string } }).query.query);
      // `uplift >= 2` let 77 of the demo's 87 SKUs through, one member's five posts among them.
      expect([id, terms]).toEqual([id, expect.arrayContaining([['rising', true]])]);
      expect(terms.map((t) => t[0])).not.toContain('uplift');
    }
  });

  it("the hot and rising tables take each row's figures from one window, its busiest hour", () => {
    for (const [id, buckets] of [
      ['trend-radar-lens-hot-products', ['sku', 'window']],
      ['trend-radar-lens-rising-products', ['sku', 'country', 'window']],
    ] as const) {
      const lens = objects.find((o) => o.id === id)!;
      const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
      expect([id, layer.columnOrder.filter((c) => layer.columns[c]!.isBucketed)]).toEqual([id, buckets]);
      // The top window by weighted signals: the maxima inside it are that window's, not the
      // most of any hour (316 signals and 284 members shown where the busiest hour had 306, 277).
      expect(layer.columns.window).toMatchObject({
        operationType: 'terms',
        sourceField: 'windowId',
        params: { size: 1, orderBy: { type: 'column', columnId: 'weighted' }, orderDirection: 'desc' },
      });
      expect(layer.columns.weighted).toMatchObject({ operationType: 'max', sourceField: 'weightedCount' });
      expect(layer.columns.hour).toMatchObject({
        operationType: 'max',
        sourceField: 'windowStart',
        dataType: 'date',
      });
      // The window's id shapes the rows; it is not shown.
      const shown = (
        lens.attributes.state as { visualization: { columns: Array<{ columnId: string; hidden?: boolean }> } }
      ).visualization.columns;
      expect(shown.filter((c) => c.hidden).map((c) => c.columnId)).toEqual(['window']);
      expect(shown.map((c) => c.columnId).sort()).toEqual(Object.keys(layer.columns).sort());
    }
  });

  it('rising products names the countries where a SKU rose, not the global scope', () => {
    const lens = objects.find((o) => o.id === 'trend-radar-lens-rising-products')!;
    const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
    expect(layer.columns.country).toMatchObject({
      operationType: 'terms',
      sourceField: 'country',
      params: { size: 3, orderBy: { type: 'column', columnId: 'weighted' } },
    });
    expect(Object.values(layer.columns).map((c) => c.sourceField)).not.toContain('scope');
    // Country windows only: the SKU's ranking is by the figures its rows show.
    const query = (lens.attributes.state as { query: { query: string } }).query.query;
    expect(kqlTerms(query)).toContainEqual(['country', '*']);
  });

  it('alerted SKUs show the latest days of cover, not an average over the episode', () => {
    const lens = objects.find((o) => o.id === 'trend-radar-lens-alerts-by-sku')!;
    const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
    expect(layer.columns.cover).toMatchObject({
      operationType: 'last_value',
      sourceField: 'stock.daysOfCover',
      dataType: 'number',
      params: { sortField: '@timestamp' },
    });
  });

  it('merchandisers find trend windows by product name or brand, with the fields the alerts have', () => {
    const search = objects.find((o) => o.id === 'trend-radar-search-trend-windows')!;
    expect(search.type).toBe('search');
    expect(search.references[0]!.id).toBe('trend-radar-trend-windows');
    expect(search.attributes.columns).toEqual(
      expect.arrayContaining(['sku', 'product.name', 'product.brand']),
    );
    // `product.name : "wild thing"` finds both (text, and a keyword for tables); brand exact, or
    // lower-cased and without accents.
    for (const family of ['trend-windows', 'reorder-alerts'] as const) {
      expect([family, fieldType(family, 'product.name')]).toEqual([family, 'text']);
      expect([family, fieldType(family, 'product.name.keyword')]).toEqual([family, 'keyword']);
      expect([family, fieldType(family, 'product.brand')]).toEqual([family, 'keyword']);
    }
    expect(fieldType('trend-windows', 'product.nameFolded')).toBe('text');
    expect(fieldType('trend-windows', 'product.brandFolded')).toBe('keyword');
  });

  it('no trend panel is tied to the global scope or ranks by score', () => {
    const trendPanels = objects.filter(
      (o) => o.type === 'lens' && o.references.some((r) => r.id === 'trend-radar-trend-windows'),
    );
    expect(trendPanels).toHaveLength(5);
    for (const o of trendPanels) {
      const query = (o.attributes.state as { query: { query: string } }).query.query;
      expect(kqlTerms(query).map((t) => t[0])).not.toContain('scope');
      const [[, layer]] = lensLayers(o) as [[string, LensLayer]];
      for (const column of Object.values(layer.columns)) expect(column.sourceField).not.toBe('score');
    }
  });
});

describe('the checks catch what they are for', () => {
  const broken = (mutate: (objects: SavedObject[]) => void): SavedObject[] => {
    const copy = structuredClone(objects);
    mutate(copy);
    return copy;
  };

  it('a reference to an object not in the file', () => {
    const objectsWithBadRef = broken((o) => {
      o.find((x) => x.type === 'dashboard')!.references[0]!.id = 'no-such-lens';
    });
    expect(unresolvedReferences(objectsWithBadRef)).toHaveLength(1);
  });

  it('a field that is not mapped, and a text field used for a terms aggregation', () => {
    const problems = fieldProblems(
      broken((o) => {
        const lens = o.find((x) => x.id === 'trend-radar-lens-top-hashtags')!;
        const layer = (
          lens.attributes.state as never as {
            datasourceStates: {
              formBased: { layers: { layer1: { columns: { tag: { sourceField: string } } } } };
            };
          }
        ).datasourceStates.formBased.layers.layer1;
        layer.columns.tag.sourceField = 'caption';
        (o.find((x) => x.id === 'trend-radar-search-alerts')!.attributes.columns as string[]).push('nope');
      }),
    );
    expect(problems).toEqual([
      'trend-radar-search-alerts: reorder-alerts.nope is not mapped, needs exists',
      'trend-radar-lens-top-hashtags: posts.caption is text, needs aggregatable',
    ]);
  });

  it('a last value on a text field, or sorted on a field that is not a date', () => {
    const problems = fieldProblems(
      broken((o) => {
        const lens = o.find((x) => x.id === 'trend-radar-lens-hot-products')!;
        const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
        layer.columns.name!.sourceField = 'product.name';
        layer.columns.brand!.params!.sortField = 'sku';
      }),
    );
    expect(problems).toEqual([
      'trend-radar-lens-hot-products: trend-windows.product.name is text, needs aggregatable',
      'trend-radar-lens-hot-products: trend-windows.sku is keyword, needs date',
    ]);
  });

  it('the maximum of a date column on a field that is not a date', () => {
    const problems = fieldProblems(
      broken((o) => {
        const lens = o.find((x) => x.id === 'trend-radar-lens-hot-products')!;
        const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
        layer.columns.hour!.sourceField = 'weightedCount';
      }),
    );
    expect(problems).toEqual([
      'trend-radar-lens-hot-products: trend-windows.weightedCount is float, needs date',
    ]);
  });

  it('resolves dotted paths and multi-fields', () => {
    expect(fieldType('mentions', 'location.point')).toBe('geo_point');
    expect(fieldType('posts', 'caption.keyword')).toBe('keyword');
    expect(fieldType('posts', 'hashtags.text')).toBe('text');
    expect(fieldType('posts', 'nothing.here')).toBeUndefined();
  });

  it('reads the KQL the objects use', () => {
    expect(kqlTerms('rising : true and scope : "global"')).toEqual([
      ['rising', true],
      ['scope', 'global'],
    ]);
    expect(kqlTerms('')).toEqual([]);
    expect(kqlTerms('sizeMs : 3600000 and uplift >= 2')).toEqual([
      ['sizeMs', '3600000'],
      ['uplift', 2, '>='],
    ]);
    expect(() => kqlTerms('sku:* or x')).toThrow(/unsupported/);
    // `field : *`: the field exists (global windows have no country).
    expect(termsQuery(kqlTerms('rising : true and country : *'))).toEqual({
      bool: { filter: [{ term: { rising: true } }, { exists: { field: 'country' } }] },
    });
    expect(kqlTerms('not status : "cooled" and sku : BAG-1')).toEqual([
      ['status', 'cooled', 'not'],
      ['sku', 'BAG-1'],
    ]);
    expect(termsQuery(kqlTerms('not status : "cooled" and sku : BAG-1'))).toEqual({
      bool: { filter: [{ term: { sku: 'BAG-1' } }], must_not: [{ term: { status: 'cooled' } }] },
    });
  });

  it('alert panels count raised episodes: cooled records left out, an escalation not a second alert', () => {
    for (const id of ['trend-radar-lens-alerts-by-priority', 'trend-radar-lens-alerts-by-sku']) {
      const lens = objects.find((o) => o.id === id)!;
      const query = (lens.attributes.state as { query: { query: string } }).query.query;
      expect(kqlTerms(query)).toContainEqual(['status', 'cooled', 'not']);
      const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
      expect(layer.columns.alerts).toMatchObject({ operationType: 'unique_count', sourceField: 'episodeId' });
    }
  });

  it('turns a Lens layer into nested aggregations ordered like Lens', () => {
    const lens = objects.find((o) => o.id === 'trend-radar-lens-top-sku-trends')!;
    expect(lensRequest(lens)).toEqual({
      query: { bool: { filter: [{ term: { sizeMs: '3600000' } }] } },
      aggs: {
        sku: {
          terms: { field: 'sku', size: 5, order: { weighted: 'desc' } },
          aggs: {
            weighted: { max: { field: 'weightedCount' } },
            time: {
              date_histogram: { field: '@timestamp', fixed_interval: '1h' },
              aggs: { weighted: { max: { field: 'weightedCount' } } },
            },
          },
        },
      },
    });
    // A last value: the newest window (by @timestamp) of those that have the field, read with
    // top_hits (Lens's array-values mode; top_metrics needs the analytics module).
    const hot = objects.find((o) => o.id === 'trend-radar-lens-hot-products')!;
    const skuAgg = lensRequest(hot).aggs.sku as { aggs: Record<string, unknown> };
    expect(skuAgg.aggs.name).toEqual({
      filter: { exists: { field: 'product.name.keyword' } },
      aggs: {
        value: {
          top_hits: {
            size: 1,
            sort: [{ '@timestamp': { order: 'desc' } }],
            _source: false,
            docvalue_fields: ['product.name.keyword'],
          },
        },
      },
    });
    const rising = objects.find((o) => o.id === 'trend-radar-lens-rising-products')!;
    expect((lensRequest(rising).query as { bool: { filter: unknown[] } }).bool.filter).toEqual([
      { term: { sizeMs: '3600000' } },
      { term: { rising: true } },
      { exists: { field: 'country' } },
    ]);
  });

  it('trend panels: top SKUs by activity outside the time buckets, hourly windows only, no sums over windows', () => {
    for (const id of [
      'trend-radar-lens-hot-products',
      'trend-radar-lens-top-sku-trends',
      'trend-radar-lens-rising-products',
      'trend-radar-lens-rising-categories',
    ]) {
      const lens = objects.find((o) => o.id === id)!;
      const query = (lens.attributes.state as { query: { query: string } }).query.query;
      expect(kqlTerms(query)).toContainEqual(['sizeMs', '3600000']);
      const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
      const windowMetrics = Object.values(layer.columns).filter(
        (c) => c.sourceField === 'signals' || c.sourceField === 'weightedCount',
      );
      expect(windowMetrics.length).toBeGreaterThan(0);
      for (const column of windowMetrics) expect(column.operationType).toBe('max');
    }
    const trends = objects.find((o) => o.id === 'trend-radar-lens-top-sku-trends')!;
    const [[, layer]] = lensLayers(trends) as [[string, LensLayer]];
    const buckets = layer.columnOrder.filter((id) => layer.columns[id]!.isBucketed);
    expect(buckets.map((id) => layer.columns[id]!.operationType)).toEqual(['terms', 'date_histogram']);
  });
});
