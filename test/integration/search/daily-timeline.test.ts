/**
 * "Last week vs this week": `search timeline --daily` reads a SKU's daily windows (one per UTC
 * day), through the CLI in process against the real node, on windows written up to the real
 * clock: the last 14 complete days (today's window is only written once the day is over), plus the
 * hourly windows of the last hours, which --daily leaves out.
 */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../../services/indexer/commands.ts';
import type { TrendWindow } from '../../../shared/contracts/events.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { trendWindowAction } from '../../../shared/elasticsearch/documents.ts';
import { DAILY_WINDOW_MS, type Timeline } from '../../../shared/elasticsearch/queries.ts';
import { withIndexedForQueries } from '../../support/elasticsearch.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('daily');
const es = createElasticsearch(elasticsearchUrl);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date();
const today = Math.floor(now.getTime() / DAY) * DAY;
const iso = (t: number) => new Date(t).toISOString();

function window(scope: string, start: number, sizeMs: number, signals: number): TrendWindow {
  return {
    windowId: `WEEK-1|${scope}|${iso(start)}|${sizeMs}`,
    sku: 'WEEK-1',
    scope,
    windowStart: iso(start),
    windowEnd: iso(start + sizeMs),
    sizeMs,
    signals,
    weightedCount: signals * 2,
    distinctMembers: Math.ceil(signals / 3),
    countsByKind: { upload: signals },
    baseline: 100,
    score: 0.5,
    pValue: 0.3,
    rising: false,
    category: 'shoes',
    emittedAt: iso(start + sizeMs + 10 * 60_000),
  };
}

// Daily windows of the 14 complete UTC days before today: 100 signals a day the week before, 200
// this week; Great Britain a tenth of that.
const days = Array.from({ length: 14 }, (_, i) => today - (14 - i) * DAY);
const windows: TrendWindow[] = days.flatMap((start, i) => [
  window('global', start, DAY, i < 7 ? 100 : 200),
  window('country:GB', start, DAY, i < 7 ? 10 : 20),
]);
// Hourly windows of the last hours (written 70 minutes after their start).
for (let start = now.getTime() - 6 * HOUR; start + HOUR + 10 * 60_000 <= now.getTime(); start += 5 * 60_000)
  windows.push(window('global', start, HOUR, 9));

const env = {
  ES_INDEX_PREFIX: process.env.ES_INDEX_PREFIX,
  ELASTICSEARCH_URL: process.env.ELASTICSEARCH_URL,
};

withIndexedForQueries(es, prefix, now, () => windows.map((w) => trendWindowAction(prefix, w)));

// The CLI reads its index prefix and Elasticsearch from the environment.
beforeAll(() => {
  process.env.ES_INDEX_PREFIX = prefix;
  process.env.ELASTICSEARCH_URL = elasticsearchUrl;
});

afterAll(() => {
  for (const [key, value] of Object.entries(env))
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

async function timeline(args: string[]): Promise<Timeline> {
  const program = new Command('trend-radar').exitOverride().configureOutput({ writeErr: () => {} });
  register(program);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await program.parseAsync(['search', 'timeline', 'WEEK-1', ...args], { from: 'user' });
    return JSON.parse(String(log.mock.calls.at(-1)?.[0])) as Timeline;
  } finally {
    log.mockRestore();
  }
}

describe('search timeline --daily', () => {
  it("lists the last two weeks day by day, so this week's days can be set beside last week's", async () => {
    const daily = await timeline(['--daily', '--since', '14d']);
    expect(daily).toMatchObject({ sku: 'WEEK-1', scope: 'global', sizeMs: DAILY_WINDOW_MS, total: 14 });
    expect(daily.points.map((p) => p.windowStart)).toEqual(days.map(iso));
    const signals = daily.points.map((p) => p.signals);
    expect(signals).toEqual([...Array(7).fill(100), ...Array(7).fill(200)]);
    expect(daily.points.every((p) => Date.parse(p.windowEnd) - Date.parse(p.windowStart) === DAY)).toBe(true);
    // Today is not there: its window is written once the day is over.
    expect(Date.parse(daily.points.at(-1)!.windowEnd)).toBe(today);
  });

  it('takes --country', async () => {
    const gb = await timeline(['--daily', '--since', '7d', '--country', 'gb']);
    expect(gb).toMatchObject({ scope: 'country:GB', sizeMs: DAILY_WINDOW_MS });
    expect(gb.points.map((p) => p.signals)).toEqual(Array(7).fill(20));
  });

  it('without --daily, reads the hourly windows only', async () => {
    const hourly = await timeline(['--since', '1d']);
    expect(hourly.sizeMs).toBe(HOUR);
    expect(hourly.points.length).toBeGreaterThan(0);
    expect(hourly.points.every((p) => p.signals === 9)).toBe(true);
  });
});
