/**
 * "Rising now" on windows shaped like the merchandiser audit's (the demo's last evening): hourly
 * windows hopping every 5 minutes, each written when it ended plus the aggregator's 10-minute
 * grace, so the newest window of a SKU started 70 minutes before `now`.
 *  - TREND-1 is the trend of the week: hundreds of weighted signals an hour, rising for a day, its
 *    score low (0.5-0.6) because its baseline has caught up; QUIET-2 rose once on a handful of
 *    signals with a high score.
 *  - In Great Britain TREND-1's windows stopped rising at 21:05; its newest GB window is not rising.
 */
import { describe, expect, it } from 'vitest';
import type { TrendWindow } from '../../../shared/contracts/events.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { trendWindowAction } from '../../../shared/elasticsearch/documents.ts';
import { MerchandiserQueries } from '../../../shared/elasticsearch/queries.ts';
import { withIndexedForQueries } from '../../support/elasticsearch.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('rising-now');
const es = createElasticsearch(elasticsearchUrl);
const queries = new MerchandiserQueries(es, prefix);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const GRACE = 10 * MINUTE;
const now = new Date('2025-11-25T23:00:00Z');
const iso = (t: number) => new Date(t).toISOString();
const at = (hhmm: string) => Date.parse(`2025-11-25T${hhmm}:00Z`);

interface Shape {
  weightedCount: number;
  signals: number;
  distinctMembers: number;
  score: number;
  rising: boolean;
}

function window(sku: string, scope: string, start: number, shape: Shape): TrendWindow {
  return {
    windowId: `${sku}|${scope}|${iso(start)}|${HOUR}`,
    sku,
    scope,
    windowStart: iso(start),
    windowEnd: iso(start + HOUR),
    sizeMs: HOUR,
    signals: shape.signals,
    weightedCount: shape.weightedCount,
    distinctMembers: shape.distinctMembers,
    countsByKind: { upload: shape.signals },
    baseline: 50,
    score: shape.score,
    pValue: shape.rising ? 0.001 : 0.4,
    rising: shape.rising,
    category: 'shoes',
    name: sku === 'TREND-1' ? 'Wild Thing Pump' : 'Quiet Loafer',
    brand: 'Maison Vermeil',
    // Written once the window ended plus the grace: 70 minutes after its start.
    emittedAt: iso(start + HOUR + GRACE),
  };
}

/** Every window start whose window has been written by `now`, over the last 30 hours. */
const starts: number[] = [];
for (let t = now.getTime() - 30 * HOUR; t + HOUR + GRACE <= now.getTime(); t += 5 * MINUTE) starts.push(t);
const newestStart = starts.at(-1)!;

const windows: TrendWindow[] = [];
for (const t of starts) {
  // TREND-1, global: rising all along, busiest at 20:00 (535.5 weighted signals); its most members
  // were in another window (19:00), with fewer weighted signals.
  const busiest = t === at('20:00');
  const mostMembers = t === at('19:00');
  windows.push(
    window('TREND-1', 'global', t, {
      weightedCount: busiest ? 535.5 : mostMembers ? 420 : 300,
      signals: busiest ? 391 : mostMembers ? 380 : 200,
      distinctMembers: busiest ? 150 : mostMembers ? 210 : 100,
      score: t === at('20:30') ? 0.6 : 0.5,
      rising: true,
    }),
  );
  // TREND-1 in Great Britain: rising until the window that started at 21:05, quiet after.
  const stillRising = t <= at('21:05');
  windows.push(
    window('TREND-1', 'country:GB', t, {
      weightedCount: stillRising ? 150 : 40,
      signals: stillRising ? 100 : 30,
      distinctMembers: stillRising ? 60 : 20,
      score: t === at('21:05') ? 0.179 : stillRising ? 0.3 : 0.05,
      rising: stillRising,
    }),
  );
}
// QUIET-2: one rising hour on a handful of signals, a surprise against its tiny baseline.
windows.push(
  window('QUIET-2', 'global', at('18:00'), {
    weightedCount: 6,
    signals: 3,
    distinctMembers: 2,
    score: 3.2,
    rising: true,
  }),
);
windows.push(
  window('QUIET-2', 'country:GB', at('18:00'), {
    weightedCount: 5,
    signals: 3,
    distinctMembers: 2,
    score: 4.1,
    rising: true,
  }),
);

withIndexedForQueries(es, prefix, now, () => windows.map((w) => trendWindowAction(prefix, w)));

describe('search rising: ranking', () => {
  it('ranks by the weighted signals of the busiest rising window, not by score', async () => {
    const rising = await queries.risingProducts({ since: '24h', now });
    expect(rising.map((r) => [r.sku, r.weightedCount, r.maxScore])).toEqual([
      ['TREND-1', 535.5, 0.6],
      ['QUIET-2', 6, 3.2],
    ]);
  });

  it("reports signals and members of that same window, and the product's name", async () => {
    const trend = (await queries.risingProducts({ since: '24h', now })).find((r) => r.sku === 'TREND-1');
    expect(trend).toMatchObject({
      busiestWindowStart: iso(at('20:00')),
      weightedCount: 535.5,
      signals: 391,
      // Not 210, the most members of any window (19:00, fewer weighted signals).
      distinctMembers: 150,
      name: 'Wild Thing Pump',
      brand: 'Maison Vermeil',
      category: 'shoes',
    });
  });

  it('ranks the top SKUs of a group the same way', async () => {
    expect(await queries.risingBy('country', { since: '24h', now })).toEqual([
      {
        key: 'GB',
        risingSkus: 2,
        top: [
          { sku: 'TREND-1', weightedCount: 150, maxScore: 0.3 },
          { sku: 'QUIET-2', weightedCount: 5, maxScore: 4.1 },
        ],
      },
    ]);
  });
});

describe('search rising: the newest window', () => {
  it('is the newest window of the scope whatever its flag, and says whether it still rises', async () => {
    const rising = await queries.risingProducts({ since: '24h', now, country: 'GB' });
    const trend = rising.find((r) => r.sku === 'TREND-1');
    expect(trend).toMatchObject({
      latestWindowStart: iso(newestStart),
      latestWindowEnd: iso(newestStart + HOUR),
      latestScore: 0.05,
      latestWeightedCount: 40,
      stillRising: false,
      // Its rising windows are still counted and ranked.
      weightedCount: 150,
    });
    expect(trend!.latestWindowStart).not.toBe(iso(at('21:05')));
  });

  it('says so when the newest window is rising', async () => {
    const rising = await queries.risingProducts({ since: '24h', now });
    expect(rising[0]).toMatchObject({
      sku: 'TREND-1',
      latestWindowStart: iso(newestStart),
      stillRising: true,
    });
    // QUIET-2's only window is its newest.
    expect(rising[1]).toMatchObject({
      latestWindowStart: iso(at('18:00')),
      stillRising: true,
      latestScore: 3.2,
    });
  });
});

describe('search rising --since: a look-back over window ends', () => {
  it('finds the windows written in the last hour (they started more than an hour ago)', async () => {
    const rising = await queries.risingProducts({ since: '1h', now });
    expect(rising.map((r) => r.sku)).toEqual(['TREND-1']);
    // Ended 22:00 to 22:50 (and written by 23:00): started 21:00 to 21:50.
    expect(rising[0]!.risingWindows).toBe(11);
    // In GB, the windows that started at 21:00 and 21:05 (ended 22:00, 22:05) were still rising.
    expect(await queries.risingBy('country', { since: '1h', now })).toEqual([
      { key: 'GB', risingSkus: 1, top: [{ sku: 'TREND-1', weightedCount: 150, maxScore: 0.3 }] },
    ]);
    expect((await queries.risingBy('category', { since: '1h', now })).map((g) => g.key)).toEqual(['shoes']);
  });

  it('applies to the timeline too', async () => {
    const timeline = await queries.skuTimeline('TREND-1', { since: '1h', now, country: 'GB' });
    expect(timeline.points.map((p) => p.windowEnd)).toEqual(
      starts.filter((t) => t + HOUR >= now.getTime() - HOUR).map((t) => iso(t + HOUR)),
    );
    expect(timeline.points).toHaveLength(11);
  });

  it('leaves out windows that had not ended by `now` (asked as of an earlier instant)', async () => {
    const earlier = new Date(at('21:00'));
    const rising = await queries.risingProducts({ since: '1h', now: earlier });
    // Ended 20:00 to 21:00: started 19:00 to 20:00 (13 windows), none that ended after 21:00.
    expect(rising[0]).toMatchObject({ sku: 'TREND-1', risingWindows: 13, latestWindowEnd: iso(at('21:00')) });
  });
});
