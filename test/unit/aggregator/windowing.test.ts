/**
 * The windowing in the style of Kafka Streams' TopologyTestDriver: pipe records in with their
 * event time, advance stream time, read what came out.
 */
import { describe, expect, it } from 'vitest';
import { idleAdvances } from '../../../services/aggregator/idle-partitions.ts';
import { DAY_MS, TrendPartition } from '../../../services/aggregator/trends.ts';
import { HOUR, MIN, settings, signal, T0, tables } from './fixtures.ts';

// 1 h windows every 5 min, 10 min grace; no scoring gates matter here.
const windowing = () =>
  new TrendPartition(settings({ AGGREGATOR_WARMUP_MS: '0', AGGREGATOR_DAILY_WINDOWS: 'false' }), tables());

const globalWindows = (p: TrendPartition) => p.drain().windows.filter((w) => w.scope === 'global');
const byEnd = (windows: ReturnType<typeof globalWindows>) =>
  Object.fromEntries(windows.map((w) => [w.windowEnd, w.signals]));

describe('hopping windows', () => {
  it('emits each window once, when stream time passes its end plus grace (in-order)', () => {
    const p = windowing();
    p.add(signal('SKU1', T0 + 2 * MIN));
    p.add(signal('SKU1', T0 + 7 * MIN));
    // Stream time T0+7min: the first window containing T0+2min ends at T0+5min, closes at T0+15min.
    expect(globalWindows(p)).toEqual([]);
    p.add(signal('OTHER', T0 + 15 * MIN)); // drives stream time only
    const first = globalWindows(p).filter((w) => w.sku === 'SKU1');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      windowStart: iso(T0 + 5 * MIN - HOUR),
      windowEnd: iso(T0 + 5 * MIN),
      signals: 1,
    });

    p.advanceTo(T0 + 2 * HOUR);
    const rest = globalWindows(p).filter((w) => w.sku === 'SKU1');
    // Windows ending T0+10min … T0+65min hold the first signal; from T0+10min they hold both.
    expect(rest.map((w) => w.windowEnd)).toEqual(
      Array.from({ length: 12 }, (_, i) => iso(T0 + (10 + 5 * i) * MIN)),
    );
    expect(rest.map((w) => w.signals)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1]);
    // Final means final: moving on emits nothing more for those windows.
    p.advanceTo(T0 + 5 * HOUR);
    expect(globalWindows(p).filter((w) => w.sku === 'SKU1')).toEqual([]);
  });

  it('puts a signal at a window start in that window and one at its end in the next (start inclusive, end exclusive)', () => {
    const p = windowing();
    const boundary = T0 + HOUR;
    p.add(signal('B', boundary));
    p.advanceTo(boundary + 3 * HOUR);
    const windows = byEnd(globalWindows(p).filter((w) => w.sku === 'B'));
    expect(windows[iso(boundary)]).toBeUndefined(); // [T0, T0+1h) excludes T0+1h
    expect(windows[iso(boundary + 5 * MIN)]).toBe(1); // [T0+5min, T0+65min) includes it
    expect(windows[iso(boundary + HOUR)]).toBe(1); // [T0+1h, T0+2h) starts with it
    expect(windows[iso(boundary + HOUR + 5 * MIN)]).toBeUndefined();
  });

  it('counts an out-of-order signal that arrives within the grace period', () => {
    const p = windowing();
    p.add(signal('SKU1', T0 + 30 * MIN));
    p.add(signal('SKU1', T0 + 68 * MIN)); // stream time 68 min
    p.add(signal('SKU1', T0 + 58 * MIN)); // 10 min back; its newest window [5,65) closes at 75 min
    expect(p.drain().late).toEqual([]);
    p.advanceTo(T0 + 3 * HOUR);
    const windows = byEnd(globalWindows(p).filter((w) => w.sku === 'SKU1'));
    expect(windows[iso(T0 + 60 * MIN)]).toBe(2); // [0, 60) holds 30 and 58
    expect(windows[iso(T0 + 70 * MIN)]).toBe(3); // [10, 70) holds all three
  });

  it('keeps a too-late signal on the side and counts it in no closed window', () => {
    const p = windowing();
    p.add(signal('SKU1', T0 + 10 * MIN));
    p.add(signal('X', T0 + 3 * HOUR)); // stream time 3 h: everything ending ≤ 2h50 is closed
    p.drain();
    const tooLate = signal('SKU1', T0 + 20 * MIN, { postId: 'late-post' });
    p.add(tooLate);
    const out = p.drain();
    expect(out.late).toHaveLength(1);
    expect(out.late[0]).toMatchObject({ signalId: tooLate.signalId, postId: 'late-post' });
    expect(out.late[0]!.reason).toMatch(/closed/);
    expect(out.late[0]!.watermark).toBe(iso(T0 + 3 * HOUR - 10 * MIN));
    p.advanceTo(T0 + 6 * HOUR);
    expect(globalWindows(p).filter((w) => w.sku === 'SKU1')).toEqual([]);
  });

  it('counts in the still-open windows a signal that is late only for older ones', () => {
    const p = windowing();
    p.add(signal('SKU1', T0 + 60 * MIN));
    p.add(signal('SKU1', T0 + 125 * MIN)); // closes windows ending ≤ 115 min
    p.add(signal('SKU1', T0 + 100 * MIN)); // windows ending 105…115 are closed, 120…160 open
    expect(p.drain().late).toEqual([]);
    p.advanceTo(T0 + 5 * HOUR);
    const windows = byEnd(globalWindows(p).filter((w) => w.sku === 'SKU1'));
    expect(windows[iso(T0 + 120 * MIN)]).toBe(2); // [60,120): the 60 and the 100
    expect(windows[iso(T0 + 130 * MIN)]).toBe(2); // [70,130): 100 and 125
  });

  it('does not reopen closed windows of a product that had gone quiet when a partly late signal arrives', () => {
    const p = windowing();
    p.add(signal('SKU1', T0)); // then nothing for SKU1: it leaves the closing loop
    p.add(signal('SKU2', T0 + 2 * HOUR));
    p.add(signal('SKU2', T0 + 10 * HOUR)); // windows ending ≤ 9:50 are closed
    p.drain();
    p.add(signal('SKU1', T0 + 8 * HOUR + 55 * MIN)); // late for the windows ending 9:00…9:50
    p.advanceTo(T0 + 12 * HOUR);
    const ends = globalWindows(p)
      .filter((w) => w.sku === 'SKU1')
      .map((w) => w.windowEnd);
    expect(ends).toEqual([iso(T0 + 9 * HOUR + 55 * MIN)]);
  });
  it('emits per-country windows beside the global ones', () => {
    const p = windowing();
    p.add(signal('SKU1', T0 + MIN, { country: 'FR' }));
    p.add(signal('SKU1', T0 + 2 * MIN, { country: 'IT' }));
    p.advanceTo(T0 + 2 * HOUR);
    const windows = p.drain().windows.filter((w) => w.windowEnd === iso(T0 + 5 * MIN));
    expect(Object.fromEntries(windows.map((w) => [w.scope, w.signals]))).toEqual({
      global: 2,
      'country:FR': 1,
      'country:IT': 1,
    });
    expect(windows.every((w) => w.windowId === `SKU1|${w.scope}|${w.windowStart}|${HOUR}`)).toBe(true);
  });

  it('closes daily windows at midnight UTC plus grace', () => {
    const p = new TrendPartition(settings({ AGGREGATOR_WARMUP_MS: '0' }), tables());
    p.add(signal('D', T0 + 23 * HOUR + 59 * MIN));
    p.add(signal('D', T0 + DAY_MS)); // next day
    p.advanceTo(T0 + DAY_MS + 9 * MIN);
    expect(p.drain().windows.filter((w) => w.sizeMs === DAY_MS)).toEqual([]);
    p.advanceTo(T0 + DAY_MS + 10 * MIN);
    const daily = p.drain().windows.filter((w) => w.sizeMs === DAY_MS && w.scope === 'global');
    expect(daily).toHaveLength(1);
    expect(daily[0]).toMatchObject({ windowStart: iso(T0), windowEnd: iso(T0 + DAY_MS), signals: 1 });
  });

  it('restores from its changelog and carries on exactly as if never stopped', () => {
    const run = (restartAt: number | null) => {
      let p = windowing();
      const changelog = new Map<string, unknown>(); // latest value per key, as compaction keeps
      const emitted: string[] = [];
      for (let i = 0; i < 200; i++) {
        if (i === restartAt) {
          p = windowing();
          for (const [key, value] of changelog) p.restore(key, value);
        }
        p.add(signal(`S${i % 3}`, T0 + i * 3 * MIN + (i % 4) * MIN, { country: i % 2 ? 'FR' : 'GB' }));
        for (const [key, value] of p.takeChanges()) changelog.set(key, JSON.parse(JSON.stringify(value)));
        emitted.push(
          ...p.drain().windows.map((w) => `${w.windowId}=${w.signals}/${w.weightedCount}/${w.baseline}`),
        );
      }
      return emitted;
    };
    const uninterrupted = run(null);
    expect(uninterrupted.length).toBeGreaterThan(100);
    expect(run(120)).toEqual(uninterrupted);
    expect(run(57)).toEqual(uninterrupted);
  });

  it("keeps everybody's activity only for the panes open windows can need, however long it runs", () => {
    const p = windowing();
    // A signal a minute for a week, in two countries.
    for (let i = 0; i < 7 * 24 * 60; i++)
      p.add(signal(`S${i % 5}`, T0 + i * MIN, { country: i % 2 ? 'FR' : 'GB' }));
    const meta = p.takeChanges().find(([key]) => key === 'meta')![1] as {
      activity: Array<[string, Array<[number, unknown]>]>;
    };
    // Two hours of 5 min panes, plus the panes of the grace period ahead of the frontier.
    const kept = Math.max(...meta.activity.map(([, panes]) => panes.length));
    expect(kept).toBeLessThanOrEqual(2 * 12 + 3);
    expect(kept).toBeGreaterThanOrEqual(12);
  });
});

describe('idle partitions', () => {
  it('moves an idle partition to the slowest active one, never past it', () => {
    const now = 1_000_000;
    const advances = idleAdvances(
      [
        { partition: 0, streamTime: T0, lastRecordAt: now - 60_000 }, // idle
        { partition: 1, streamTime: T0 + 2 * HOUR, lastRecordAt: now - 1_000 },
        { partition: 2, streamTime: T0 + 3 * HOUR, lastRecordAt: now - 2_000 },
        { partition: 3, streamTime: T0 + 5 * HOUR, lastRecordAt: now - 45_000 }, // idle but ahead
      ],
      now,
      30_000,
    );
    expect([...advances]).toEqual([[0, T0 + 2 * HOUR]]);
  });

  it('moves nothing when every partition is idle (end of input): no window closes on a guess', () => {
    const now = 1_000_000;
    const advances = idleAdvances(
      [
        { partition: 0, streamTime: T0, lastRecordAt: now - 60_000 },
        { partition: 1, streamTime: T0 + HOUR, lastRecordAt: now - 60_000 },
      ],
      now,
      30_000,
    );
    expect(advances.size).toBe(0);
  });

  it('lets an idle partition close its windows once pushed', () => {
    const p = windowing();
    p.add(signal('QUIET', T0 + MIN));
    expect(p.drain().windows).toEqual([]);
    const [[, to]] = [
      ...idleAdvances(
        [
          { partition: 0, streamTime: p.currentStreamTime, lastRecordAt: 0 },
          { partition: 1, streamTime: T0 + 2 * HOUR, lastRecordAt: 100_000 },
        ],
        100_000,
        30_000,
      ),
    ] as [[number, number]];
    p.advanceTo(to);
    expect(globalWindows(p).filter((w) => w.sku === 'QUIET')).toHaveLength(12);
  });
});

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
