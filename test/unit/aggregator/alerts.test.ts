/**
 * Alert lifecycle on a hand-built day: quiet products, a steady best-seller, a real trend, and two
 * decoys (a like-bot on one photo, one eager member posting the same product over and over).
 */
import { describe, expect, it } from 'vitest';
import { TrendPartition } from '../../../services/aggregator/trends.ts';
import type { ReorderAlert, Signal, TrendWindow } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, rng, settings, signal, T0, tables } from './fixtures.ts';

const TREND_ONSET = T0 + 8 * HOUR;

function day(seed: number): Signal[] {
  const random = rng(seed);
  const out: Signal[] = [];
  let post = 0;
  const member = () => `m${Math.floor(random() * 5000)}`;
  const upload = (sku: string, at: number, author = member(), likes = Math.floor(random() * 3)) => {
    const postId = `${sku}-post-${post++}`;
    out.push(
      signal(sku, at, { kind: 'upload', postId, memberId: author, country: random() < 0.6 ? 'GB' : 'FR' }),
    );
    for (let i = 0; i < likes; i++) {
      out.push(
        signal(sku, at + Math.floor(random() * 30 * MIN), { kind: 'like', postId, postMemberId: author }),
      );
    }
  };
  const hourly = (sku: string, perHour: (t: number) => number) => {
    for (let t = T0; t < T0 + 14 * HOUR; ) {
      t += (-Math.log(1 - random()) / perHour(t)) * HOUR;
      upload(sku, Math.floor(t));
    }
  };
  for (let q = 0; q < 5; q++) hourly(`QUIET-${q}`, () => 3);
  hourly('BEST', () => 40);
  hourly('RED', (t) => (t >= TREND_ONSET && t < TREND_ONSET + 2 * HOUR ? 15 : 3));
  hourly('BOT', () => 3);
  hourly('EAGER', () => 3);
  // Like-bot: 400 accounts like one photo within twenty minutes.
  const botPost = 'BOT-target';
  out.push(signal('BOT', TREND_ONSET, { kind: 'upload', postId: botPost, memberId: 'bot-owner' }));
  for (let i = 0; i < 400; i++) {
    out.push(
      signal('BOT', TREND_ONSET + Math.floor((i / 400) * 20 * MIN), {
        kind: 'like',
        postId: botPost,
        postMemberId: 'bot-owner',
        memberId: `bot-${i}`,
      }),
    );
  }
  // One eager member: thirty photos an hour for two hours, each liked a couple of times.
  for (let i = 0; i < 60; i++) upload('EAGER', TREND_ONSET + i * 2 * MIN, 'eager-member', 2);
  // Delivery order: by event time with a little jitter, as from several upstream partitions.
  return out
    .map((s) => ({ s, order: Date.parse(s.eventTime) + random() * 2 * MIN }))
    .sort((a, b) => a.order - b.order)
    .map(({ s }) => s);
}

function run(signals: Signal[]): { alerts: ReorderAlert[]; late: number } {
  const partition = new TrendPartition(
    // The hand-built day is 14 h long: baselines learn for 6 h of it instead of the default day.
    settings({ AGGREGATOR_WARMUP_MS: String(6 * HOUR) }),
    tables(
      { RED: { name: 'Red leather pump', category: 'shoes', brand: 'Luma' } },
      { RED: { onHand: 30, onOrder: 0, leadTimeDays: 10, dailySales: 5 } },
    ),
  );
  const alerts: ReorderAlert[] = [];
  let late = 0;
  for (const s of signals) {
    partition.add(s);
    const out = partition.drain();
    alerts.push(...out.alerts);
    late += out.late.length;
  }
  // Stream time moves on (as more traffic would move it) until the episode can cool down.
  partition.advanceTo(T0 + 24 * HOUR);
  alerts.push(...partition.drain().alerts);
  return { alerts, late };
}

describe('alerts', () => {
  const signals = day(7);
  const { alerts, late } = run(signals);

  it('raises one episode for the real trend, soon after its onset, and nothing for the decoys', () => {
    expect(late).toBe(0);
    expect([...new Set(alerts.map((a) => a.sku))]).toEqual(['RED']);
    const first = alerts[0]!;
    expect(first.status).toBe('new');
    const delay = Date.parse(first.windowEnd) - TREND_ONSET;
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(45 * MIN);
  });

  it('goes new → (escalated) → cooled within one episode, with deterministic ids', () => {
    const statuses = alerts.map((a) => a.status);
    expect(statuses[0]).toBe('new');
    expect(statuses.at(-1)).toBe('cooled');
    expect(statuses.filter((s) => s === 'new')).toHaveLength(1);
    expect(new Set(alerts.map((a) => a.episodeId)).size).toBe(1);
    expect(new Set(alerts.map((a) => a.alertId)).size).toBe(alerts.length);
    for (const alert of alerts)
      expect(alert.alertId).toMatch(/^RED\|2026-03-02T08:\d\d:00\.000Z\|(new|escalated|cooled)\|\d+$/);
    // Same input, same alerts: what makes a replay or a restart harmless.
    expect(run(signals).alerts.map((a) => a.alertId)).toEqual(alerts.map((a) => a.alertId));
  });

  it('carries the evidence a buyer needs', () => {
    const first = alerts[0]!;
    expect(first.product).toMatchObject({ name: 'Red leather pump', category: 'shoes', brand: 'Luma' });
    expect(first.uplift).toBeGreaterThanOrEqual(2);
    expect(first.pValue).toBeLessThan(1e-4);
    expect(first.series.length).toBeGreaterThan(6);
    expect(first.series.at(-1)!.weightedCount).toBeGreaterThan(first.series[0]!.weightedCount);
    expect(first.topRegions.map((r) => r.country).sort()).toEqual(['FR', 'GB']);
    expect(first.photos.length).toBeGreaterThan(0);
    expect(first.photos[0]!.imageUrl).toMatch(/^https:\/\/img\.example\/RED-post-/);
    expect(first.stock).toMatchObject({ onHand: 30, leadTimeDays: 10 });
    expect(first.suggestedReorderQty).toBeGreaterThan(0);
    expect(first.priority).toBe('P1');
  });
});

describe('an alert opened by one country', () => {
  it('shows the strongest photos posted in that country', () => {
    const random = rng(11);
    const signals: Signal[] = [];
    // A steady in GB (and a little in FR) for 10 hours, three other products both sides...
    for (let t = T0; t < T0 + 10 * HOUR; t += Math.floor(random() * 60_000)) {
      const sku = ['A', 'B', 'C', 'D'][Math.floor(random() * 4)]!;
      const inGb = sku === 'A' ? random() < 0.97 : random() < 0.5;
      signals.push(
        signal(sku, t, { memberId: `m${Math.floor(random() * 5000)}`, country: inGb ? 'GB' : 'FR' }),
      );
    }
    // ...then 25 members post A in France within 20 minutes: only the FR window rises.
    for (let i = 0; i < 25; i++)
      signals.push(
        signal('A', T0 + 8 * HOUR + i * 50_000, {
          memberId: `fr${i}`,
          postId: `fr-post-${i}`,
          country: 'FR',
        }),
      );
    signals.sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
    const partition = new TrendPartition(
      settings({ AGGREGATOR_WARMUP_MS: String(4 * HOUR) }),
      tables({}, { A: { onHand: 0, onOrder: 0, leadTimeDays: 10, dailySales: 5 } }),
    );
    const alerts: ReorderAlert[] = [];
    const risingScopes = new Set<string>();
    const windows = new Map<string, TrendWindow>();
    for (const s of signals) {
      partition.add(s);
      const out = partition.drain();
      alerts.push(...out.alerts);
      for (const w of out.windows) {
        if (w.rising) risingScopes.add(w.scope);
        if (w.sku === 'A') windows.set(`${w.scope}|${w.windowEnd}`, w);
      }
    }
    expect([...risingScopes]).toEqual(['country:FR']);
    const first = alerts.find((a) => a.sku === 'A' && a.status === 'new')!;
    expect(first.photos.length).toBeGreaterThan(0);
    for (const photo of first.photos) expect(photo.postId).toMatch(/^fr-post-/);
    // Sales are worldwide: the order is sized on the product's global window, not on France's rise.
    const uplift = (w: TrendWindow) => Math.max(1, w.weightedCount / w.baseline);
    const globalWindow = windows.get(`global|${first.windowEnd}`)!;
    const franceWindow = windows.get(`country:FR|${first.windowEnd}`)!;
    expect(uplift(franceWindow)).toBeGreaterThan(2 * uplift(globalWindow));
    expect(first.uplift).toBeCloseTo(uplift(globalWindow), 1);
    const demandPerDay = 5 * (1 + 0.5 * (first.uplift - 1));
    expect(first.suggestedReorderQty).toBe(
      Math.ceil(10 * demandPerDay + 1.65 * Math.sqrt(10 * demandPerDay)),
    );
  });
});

describe('what an alert asks a buyer to do', () => {
  function runWith(
    signals: Signal[],
    stock: Parameters<typeof tables>[1],
    onAlert?: (a: ReorderAlert) => void,
  ) {
    const partition = new TrendPartition(
      settings({ AGGREGATOR_WARMUP_MS: String(6 * HOUR) }),
      tables({}, stock),
    );
    const alerts: ReorderAlert[] = [];
    const globalWindows = new Map<string, { weightedCount: number; baseline: number }>();
    const collect = () => {
      const out = partition.drain();
      for (const w of out.windows)
        if (w.sku === 'RED' && w.scope === 'global') globalWindows.set(w.windowEnd, w);
      for (const a of out.alerts) {
        alerts.push(a);
        onAlert?.(a);
      }
    };
    for (const s of signals) {
      partition.add(s);
      collect();
    }
    partition.advanceTo(T0 + 24 * HOUR);
    collect();
    return { alerts, globalWindows };
  }

  it("sizes the order on the alert window's uplift over its baseline, the figure it shows", () => {
    const { alerts, globalWindows } = runWith(day(7), {
      RED: { onHand: 30, onOrder: 0, leadTimeDays: 10, dailySales: 5 },
    });
    const raised = alerts.filter((a) => a.status !== 'cooled');
    expect(raised.length).toBeGreaterThan(0);
    for (const alert of raised) {
      const window = globalWindows.get(alert.windowEnd)!;
      expect(alert.uplift).toBeCloseTo(Math.max(1, window.weightedCount / window.baseline), 1);
    }
  });

  it('cools with the stock as it stands then, and without the trend in its quantity or priority', () => {
    const stock = { RED: { onHand: 30, onOrder: 0, leadTimeDays: 10, dailySales: 5 } };
    const { alerts } = runWith(day(7), stock, (alert) => {
      // The buyer reorders at once: the ERP's next record shows it on order.
      if (alert.status === 'new') stock.RED = { ...stock.RED, onHand: 2000, onOrder: 500 };
    });
    expect(alerts[0]!.priority).toBe('P1');
    const cooled = alerts.at(-1)!;
    expect(cooled.status).toBe('cooled');
    expect(cooled.stock).toMatchObject({ onHand: 2000, onOrder: 500 });
    expect(cooled.suggestedReorderQty).toBe(0);
    expect(cooled.priority).toBe('P3');
  });

  it('shows one photo per member and per image, so one reposter cannot fill the evidence', () => {
    const reposts = Array.from({ length: 6 }, (_, i) => [
      signal('RED', TREND_ONSET + 10 * MIN + i * MIN, {
        kind: 'upload',
        postId: `repost-${i}`,
        memberId: 'reposter',
        imageUrl: 'https://img.example/same-photo.jpg',
      }),
      ...Array.from({ length: 8 }, (_, j) =>
        signal('RED', TREND_ONSET + 11 * MIN + i * MIN, {
          kind: 'like',
          postId: `repost-${i}`,
          postMemberId: 'reposter',
          memberId: `fan-${i}-${j}`,
        }),
      ),
    ]).flat();
    const signals = [...day(7), ...reposts].sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
    const { alerts } = runWith(signals, {});
    const withReposter = alerts.find((a) => a.photos.some((p) => p.memberId === 'reposter'));
    expect(withReposter).toBeDefined();
    for (const alert of alerts) {
      expect(new Set(alert.photos.map((p) => p.memberId)).size).toBe(alert.photos.length);
      expect(new Set(alert.photos.map((p) => p.imageUrl)).size).toBe(alert.photos.length);
    }
  });
});
