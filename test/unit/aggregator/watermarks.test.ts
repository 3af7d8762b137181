/**
 * Watermarks through the repartition topic in the style of Kafka Streams' TopologyTestDriver: pipe
 * progress records and signals into one windowing partition as two producers would interleave
 * them, and read what came out.
 */
import { describe, expect, it } from 'vitest';
import { TrendPartition } from '../../../services/aggregator/trends.ts';
import { SourceWatermarks, WATERMARKS_KEY } from '../../../services/aggregator/watermarks.ts';
import type { Signal } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, settings, signal, T0, tables } from './fixtures.ts';

const IDLE_MS = 30_000;
const NOW = 1_000_000;

/** One windowing partition as the service wires it: signals, and progress from `sources` sources. */
function driver(sources = 2) {
  const windowing = new TrendPartition(
    settings({ AGGREGATOR_WARMUP_MS: '0', AGGREGATOR_DAILY_WINDOWS: 'false' }),
    tables(),
  );
  const watermarks = new SourceWatermarks(IDLE_MS, NOW);
  const announced = new Set<number>();
  const progress = (source: number, watermark: number, now = NOW) => {
    watermarks.observe({ source, sources, watermark }, now);
    windowing.advanceTo(watermarks.watermark());
  };
  return {
    windowing,
    watermarks,
    progress,
    /** A signal from `source` and its progress after it; its first comes after an announcement. */
    send(source: number, s: Signal, now = NOW) {
      if (!announced.has(source)) progress(source, Number.NEGATIVE_INFINITY, now);
      announced.add(source);
      windowing.add(s, !watermarks.engaged);
      progress(source, Date.parse(s.eventTime), now);
    },
  };
}

const globalEnds = (p: TrendPartition) =>
  p
    .drain()
    .windows.filter((w) => w.scope === 'global')
    .map((w) => `${w.sku}@${w.windowEnd}:${w.signals}`);

describe('source watermarks', () => {
  it('is the minimum over every source, and never moves back', () => {
    const w = new SourceWatermarks(IDLE_MS, NOW);
    expect(w.engaged).toBe(false);
    w.observe({ source: 0, sources: 2, watermark: T0 + 10 * MIN }, NOW);
    expect(w.engaged).toBe(true);
    expect(w.watermark()).toBe(Number.NEGATIVE_INFINITY); // source 1 has not reported
    w.observe({ source: 1, sources: 2, watermark: T0 + 5 * MIN }, NOW);
    expect(w.watermark()).toBe(T0 + 5 * MIN);
    w.observe({ source: 1, sources: 2, watermark: T0 + 20 * MIN }, NOW);
    expect(w.watermark()).toBe(T0 + 10 * MIN);
    w.observe({ source: 0, sources: 2, watermark: T0 }, NOW); // a replayed, older announcement
    expect(w.watermark()).toBe(T0 + 10 * MIN);
  });

  it('counts a source announced with nothing processed yet as holding back', () => {
    const w = new SourceWatermarks(IDLE_MS, NOW);
    w.observe({ source: 0, sources: 2, watermark: T0 + HOUR }, NOW);
    w.observe({ source: 1, sources: 2, watermark: Number.NEGATIVE_INFINITY }, NOW);
    expect(w.watermark()).toBe(Number.NEGATIVE_INFINITY);
  });

  it('leaves out a source that never reports once the idle time has passed, unless the partition lags', () => {
    const w = new SourceWatermarks(IDLE_MS, NOW);
    w.observe({ source: 0, sources: 3, watermark: T0 + HOUR }, NOW);
    w.observe({ source: 1, sources: 3, watermark: T0 + 2 * HOUR }, NOW + IDLE_MS);
    expect(w.watermarkLeavingOutSilent(NOW + IDLE_MS - 1, false)).toBe(Number.NEGATIVE_INFINITY);
    // Source 2 never reported and source 0 has been silent for the idle time: source 1 leads.
    expect(w.watermarkLeavingOutSilent(NOW + IDLE_MS, false)).toBe(T0 + 2 * HOUR);
    // A partition behind its log may still have their progress to read: everybody counts.
    expect(w.watermarkLeavingOutSilent(NOW + IDLE_MS, true)).toBe(Number.NEGATIVE_INFINITY);
    // All silent: nothing to go by.
    expect(w.watermarkLeavingOutSilent(NOW + 2 * IDLE_MS, false)).toBe(Number.NEGATIVE_INFINITY);
    // Strict minimum is unaffected by wall clock.
    expect(w.watermark()).toBe(Number.NEGATIVE_INFINITY);
  });

  it('restores what it had from its changelog entry, and writes it only when it changed', () => {
    const w = new SourceWatermarks(IDLE_MS, NOW);
    w.observe({ source: 0, sources: 2, watermark: T0 + HOUR }, NOW);
    w.observe({ source: 1, sources: 2, watermark: Number.NEGATIVE_INFINITY }, NOW);
    const changes = w.takeChanges();
    expect(changes.map(([key]) => key)).toEqual([WATERMARKS_KEY]);
    expect(w.takeChanges()).toEqual([]);
    w.observe({ source: 0, sources: 2, watermark: T0 }, NOW);
    expect(w.takeChanges()).toEqual([]); // nothing moved

    const restored = new SourceWatermarks(IDLE_MS, NOW + HOUR);
    const [[, value]] = JSON.parse(JSON.stringify(changes)) as [[string, unknown]];
    restored.restore(value, NOW + HOUR);
    expect(restored.engaged).toBe(true);
    expect(restored.watermark()).toBe(Number.NEGATIVE_INFINITY);
    restored.observe({ source: 1, sources: 2, watermark: T0 + 2 * HOUR }, NOW + HOUR);
    expect(restored.watermark()).toBe(T0 + HOUR);
    // Restored sources count as heard at the restore, not at their original wall-clock time.
    expect(restored.watermarkLeavingOutSilent(NOW + HOUR + IDLE_MS - 1, false)).toBe(T0 + HOUR);
  });
});

describe('windowing behind the watermarks of two producers', () => {
  // Source 0 (a fast instance) runs 3 h ahead of source 1 (a slow one); both write to this partition.
  const fast = Array.from({ length: 12 }, (_, i) => signal('FAST', T0 + 3 * HOUR + i * 10 * MIN));
  const slow = Array.from({ length: 12 }, (_, i) => signal('SLOW', T0 + i * 10 * MIN));

  it('in order: closes what a single producer would', () => {
    const d = driver(1);
    for (const s of slow) d.send(0, s);
    d.progress(0, T0 + 4 * HOUR);
    const ends = globalEnds(d.windowing);
    const legacy = new TrendPartition(
      settings({ AGGREGATOR_WARMUP_MS: '0', AGGREGATOR_DAILY_WINDOWS: 'false' }),
      tables(),
    );
    for (const s of slow) legacy.add(s);
    legacy.advanceTo(T0 + 4 * HOUR);
    expect(ends).toEqual(globalEnds(legacy));
    expect(d.windowing.drain().late).toEqual([]);
  });

  it('a fast and a slow source: nothing late, the same windows as in event-time order', () => {
    const d = driver(2);
    // The fast producer's whole run arrives first, then the slow one's.
    for (const s of fast) d.send(0, s);
    expect(d.windowing.currentStreamTime).toBe(Number.NEGATIVE_INFINITY); // source 1 not heard
    for (const s of slow) d.send(1, s);
    d.progress(1, T0 + 6 * HOUR);
    expect(d.windowing.currentStreamTime).toBe(T0 + 3 * HOUR + 110 * MIN);
    const out = d.windowing.drain();
    expect(out.late).toEqual([]);

    const ordered = driver(1);
    for (const s of [...slow, ...fast]) ordered.send(0, s);
    const expected = ordered.windowing.drain();
    expect(out.windows.map((w) => w.windowId).sort()).toEqual(expected.windows.map((w) => w.windowId).sort());
  });

  it('without watermarks (stream time = the largest event time seen) the slow producer is late', () => {
    const p = new TrendPartition(
      settings({ AGGREGATOR_WARMUP_MS: '0', AGGREGATOR_DAILY_WINDOWS: 'false' }),
      tables(),
    );
    for (const s of [...fast, ...slow]) p.add(s);
    expect(p.drain().late.length).toBeGreaterThan(0);
  });

  it('a source that never reports holds the windows back until left out as idle', () => {
    const d = driver(2);
    const later = NOW + IDLE_MS / 2; // source 0 keeps reporting, source 1 never does
    for (const s of fast) d.send(0, s, later);
    expect(globalEnds(d.windowing)).toEqual([]);
    d.windowing.advanceTo(d.watermarks.watermarkLeavingOutSilent(NOW + IDLE_MS - 1, false));
    expect(globalEnds(d.windowing)).toEqual([]);
    d.windowing.advanceTo(d.watermarks.watermarkLeavingOutSilent(NOW + IDLE_MS, false));
    expect(d.windowing.currentStreamTime).toBe(T0 + 3 * HOUR + 110 * MIN);
    expect(globalEnds(d.windowing).length).toBeGreaterThan(0);
  });
});
