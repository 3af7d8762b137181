/**
 * The window queries on what the aggregator really writes: hourly windows hopping every five
 * minutes for days (more than one search page) plus one window per UTC day, whose counts and
 * scores are on another scale; and categories in another case than the merchandiser types.
 */
import { describe, expect, it } from 'vitest';
import type { TrendWindow } from '../../../shared/contracts/events.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { trendWindowAction } from '../../../shared/elasticsearch/documents.ts';
import { MerchandiserQueries } from '../../../shared/elasticsearch/queries.ts';
import { withIndexedForQueries } from '../../support/elasticsearch.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('windows');
const es = createElasticsearch(elasticsearchUrl);
const queries = new MerchandiserQueries(es, prefix);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const STEP = 5 * 60_000;
const now = new Date('2025-06-20T12:00:00Z');
const iso = (t: number) => new Date(t).toISOString();

function window(
  sku: string,
  start: number,
  sizeMs: number,
  signals: number,
  rising: boolean,
  score: number,
  category: string | null = 'bags',
): TrendWindow {
  return {
    windowId: `${sku}|global|${iso(start)}|${sizeMs}`,
    sku,
    scope: 'global',
    windowStart: iso(start),
    windowEnd: iso(start + sizeMs),
    sizeMs,
    signals,
    weightedCount: signals,
    distinctMembers: Math.min(signals, 50),
    countsByKind: { upload: signals },
    baseline: 1,
    score,
    pValue: 0.001,
    rising,
    category,
    emittedAt: iso(start + sizeMs + 60_000),
  };
}

const windows: TrendWindow[] = [];
// BAG-1: active for 7 days, an hourly window ending every 5 minutes, and a window per UTC day.
for (let end = now.getTime() - 7 * DAY; end <= now.getTime() - 10 * 60_000; end += STEP)
  windows.push(window('BAG-1', end - HOUR, HOUR, 10, false, 1));
for (let d = Date.parse('2025-06-13T00:00:00Z'); d + DAY <= now.getTime(); d += DAY)
  windows.push(window('BAG-1', d, DAY, 240, false, 2));
// SHOE-7: rising over yesterday as a whole, never in one hour.
windows.push(window('SHOE-7', Date.parse('2025-06-19T00:00:00Z'), DAY, 300, true, 9, 'shoes'));
windows.push(window('SHOE-7', Date.parse('2025-06-19T10:00:00Z'), HOUR, 25, false, 2, 'shoes'));
// TOTE-3: rising in its busiest hour; its category written with a capital by the catalogue.
windows.push(window('TOTE-3', Date.parse('2025-06-19T11:00:00Z'), HOUR, 60, true, 6, 'Bags'));
windows.push(window('CLUTCH-2', Date.parse('2025-06-19T12:00:00Z'), HOUR, 30, true, 4, 'bags'));

// The windows of a 7-day look-back: those that ended in it.
const hourlyBag = windows.filter(
  (w) => w.sku === 'BAG-1' && w.sizeMs === HOUR && Date.parse(w.windowEnd) >= now.getTime() - 7 * DAY,
);

withIndexedForQueries(es, prefix, now, () => windows.map((w) => trendWindowAction(prefix, w)));

describe("a SKU's timeline over days of hopping windows", () => {
  it('returns every hourly window of the period up to the newest, in time order, no daily window', async () => {
    expect(hourlyBag.length).toBeGreaterThan(2000); // more than one page of results
    const timeline = await queries.skuTimeline('BAG-1', { since: '7d', now });
    expect(timeline).toMatchObject({ sizeMs: HOUR, total: hourlyBag.length, truncated: false });
    expect(timeline.points).toHaveLength(hourlyBag.length);
    expect(timeline.points.at(-1)!.windowStart).toBe(hourlyBag.at(-1)!.windowStart);
    expect(timeline.points[0]!.windowStart).toBe(hourlyBag[0]!.windowStart);
    const starts = timeline.points.map((p) => Date.parse(p.windowStart));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(timeline.points.every((p) => Date.parse(p.windowEnd) - Date.parse(p.windowStart) === HOUR)).toBe(
      true,
    );
  });

  it('keeps the newest points and says so when the period holds more than asked for', async () => {
    const timeline = await queries.skuTimeline('BAG-1', { since: '7d', now, maxPoints: 1500 });
    expect(timeline).toMatchObject({ total: hourlyBag.length, truncated: true });
    expect(timeline.points).toHaveLength(1500);
    expect(timeline.points.map((p) => p.windowStart)).toEqual(
      hourlyBag.slice(-1500).map((w) => w.windowStart),
    );
  });

  it('reads the daily windows when asked for that size', async () => {
    const daily = await queries.skuTimeline('BAG-1', { since: '7d', now, sizeMs: DAY });
    // The seven days that ended in the last 7 days (13 June, which ended on the 14th, to the 19th).
    expect(daily.points.map((p) => p.windowStart.slice(0, 10))).toEqual([
      '2025-06-13',
      '2025-06-14',
      '2025-06-15',
      '2025-06-16',
      '2025-06-17',
      '2025-06-18',
      '2025-06-19',
    ]);
    expect(daily.points.map((p) => p.signals)).toEqual([240, 240, 240, 240, 240, 240, 240]);
  });
});

describe('rising products on hourly windows', () => {
  it('ranks by the busiest hour: a daily window does not outrank it', async () => {
    const rising = await queries.risingProducts({ since: '2d', now });
    expect(rising.map((p) => [p.sku, p.signals, p.maxScore])).toEqual([
      ['TOTE-3', 60, 6],
      ['CLUTCH-2', 30, 4],
    ]);
    expect(await queries.risingBy('category', { since: '2d', now })).toEqual([
      {
        key: 'bags',
        risingSkus: 2,
        top: [
          { sku: 'TOTE-3', weightedCount: 60, maxScore: 6 },
          { sku: 'CLUTCH-2', weightedCount: 30, maxScore: 4 },
        ],
      },
    ]);
  });

  it('finds a category whatever its case, as typed or as the catalogue wrote it', async () => {
    for (const category of ['Bags', 'bags', 'BAGS'])
      expect((await queries.risingProducts({ since: '2d', now, category })).map((p) => p.sku)).toEqual([
        'TOTE-3',
        'CLUTCH-2',
      ]);
  });
});
