/**
 * Every window record carries its product's catalogue name and brand beside the category (hourly
 * and daily, every scope), so merchandisers find a product's trend windows by name; a SKU the
 * catalogue does not know has nulls. The catalogue is read once per window closed.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS, TrendPartition, type TrendTables } from '../../../services/aggregator/trends.ts';
import { TrendWindow } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, settings, signal, T0, tables } from './fixtures.ts';

const CATALOGUE = {
  WILD: { name: 'Wild Thing', brand: 'Aquazzura', category: 'Shoes' },
  // In the catalogue without a name or brand.
  PLAIN: { category: 'bags' },
};

function partition(counted: { lookups: number }): TrendPartition {
  const base = tables(CATALOGUE);
  const counting: TrendTables = {
    product: (sku) => {
      counted.lookups++;
      return base.product(sku);
    },
    inventory: (sku) => base.inventory(sku),
  };
  return new TrendPartition(settings({ AGGREGATOR_WARMUP_MS: '0' }), counting);
}

/** A few uploads an hour of each SKU over a day and a bit, in two countries. */
function feed(p: TrendPartition, from: number, to: number): void {
  let i = 0;
  for (let t = from; t < to; t += 20 * MIN, i++)
    for (const sku of ['WILD', 'PLAIN', 'UNKNOWN'])
      p.add(signal(sku, t, { country: i % 2 === 0 ? 'GB' : 'FR' }));
}

describe('window records name their product', () => {
  it('hourly and daily windows of every scope carry the catalogue name and brand, null when unknown', () => {
    const p = partition({ lookups: 0 });
    feed(p, T0, T0 + DAY_MS + 2 * HOUR);
    p.advanceTo(T0 + DAY_MS + 3 * HOUR);
    const windows = p.drain().windows;
    const of = (sku: string) => windows.filter((w) => w.sku === sku);

    for (const sku of ['WILD', 'PLAIN', 'UNKNOWN']) {
      const own = of(sku);
      // Hourly and daily, global and both countries: every kind of record is checked below.
      expect(new Set(own.map((w) => w.sizeMs))).toEqual(new Set([HOUR, DAY_MS]));
      expect(new Set(own.map((w) => w.scope))).toEqual(new Set(['global', 'country:GB', 'country:FR']));
    }
    for (const w of of('WILD'))
      expect(w).toMatchObject({ name: 'Wild Thing', brand: 'Aquazzura', category: 'Shoes' });
    for (const w of of('PLAIN')) expect(w).toMatchObject({ name: null, brand: null, category: 'bags' });
    for (const w of of('UNKNOWN')) expect(w).toMatchObject({ name: null, brand: null, category: null });
    // What the aggregator produces is what the topic's contract accepts.
    for (const w of windows) expect(TrendWindow.parse(w)).toEqual(w);
  });

  it('reads the catalogue once per window closed (the close is the hot path of a replay)', () => {
    const counted = { lookups: 0 };
    const p = partition(counted);
    feed(p, T0, T0 + 6 * HOUR);
    p.advanceTo(T0 + 6 * HOUR);
    p.drain();
    // Every SKU and scope has been scored: no prior is computed from the catalogue any more.
    const before = counted.lookups;
    feed(p, T0 + 6 * HOUR, T0 + 12 * HOUR);
    p.advanceTo(T0 + 12 * HOUR);
    const { windows, alerts } = p.drain();
    expect(alerts).toEqual([]);
    expect(windows.length).toBeGreaterThan(100);
    expect(counted.lookups - before).toBe(windows.length);
  });
});

describe('trend windows written before name and brand', () => {
  it('still validate, with neither field', () => {
    const older = {
      windowId: `OLD|global|${new Date(T0).toISOString()}|${HOUR}`,
      sku: 'OLD',
      scope: 'global',
      windowStart: new Date(T0).toISOString(),
      windowEnd: new Date(T0 + HOUR).toISOString(),
      sizeMs: HOUR,
      signals: 3,
      weightedCount: 3,
      distinctMembers: 3,
      countsByKind: { upload: 3 },
      baseline: 1,
      score: 0.2,
      pValue: 0.8,
      rising: false,
      category: 'bags',
      emittedAt: new Date(T0 + HOUR + 10 * MIN).toISOString(),
    };
    const parsed = TrendWindow.parse(older);
    expect(parsed.name).toBeUndefined();
    expect(parsed.brand).toBeUndefined();
    expect(TrendWindow.safeParse({ ...older, name: null, brand: null }).success).toBe(true);
    expect(TrendWindow.safeParse({ ...older, name: 'x'.repeat(301) }).success).toBe(false);
  });
});
