/**
 * An episode lasts as long as its trend: a trend running for a day and a half, through a quiet
 * night, is one episode, and it cools once the rise is over, not when the night's few posts stop
 * being significant or when the product's own baseline has caught up with the trend.
 */
import { describe, expect, it } from 'vitest';
import { TrendPartition } from '../../../services/aggregator/trends.ts';
import type { ReorderAlert, Signal } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, rng, settings, signal, T0, tables } from './fixtures.ts';

const ONSET = T0 + 32 * HOUR; // 08:00 UTC on the second day
const OVER = ONSET + 40 * HOUR; // midnight after the third day
const END = T0 + 5 * 24 * HOUR;

/** Posts per hour in the community's rhythm: quiet from midnight to 06:00 UTC. */
function rhythm(t: number): number {
  const hour = new Date(t).getUTCHours();
  return hour < 6 ? 0.15 : 1;
}

function stream(seed: number): Signal[] {
  const random = rng(seed);
  const out: Signal[] = [];
  let post = 0;
  const rates: Record<string, (t: number) => number> = {
    TREND: (t) => 3 * rhythm(t) * (t >= ONSET && t < OVER ? 8 : 1),
    A: (t) => 6 * rhythm(t),
    B: (t) => 4 * rhythm(t),
    C: (t) => 3 * rhythm(t),
    D: (t) => 5 * rhythm(t),
  };
  for (const [sku, rate] of Object.entries(rates)) {
    // Thinning: candidate posts at the highest rate, kept in proportion to the rate at the time.
    for (let t = T0; t < END; ) {
      t += (-Math.log(1 - random()) / 24) * HOUR;
      if (random() * 24 > rate(t)) continue;
      const postId = `${sku}-post-${post++}`;
      const author = `m${Math.floor(random() * 20_000)}`;
      const country = random() < 0.5 ? 'GB' : 'IT';
      out.push(signal(sku, Math.floor(t), { postId, memberId: author, country }));
      for (let i = Math.floor(random() * 3); i > 0; i--) {
        const at = Math.floor(t + random() * 90 * MIN);
        out.push(signal(sku, at, { kind: 'like', postId, postMemberId: author, country }));
      }
    }
  }
  return out.sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
}

function alertsOf(signals: Signal[], overrides: Record<string, string> = {}): ReorderAlert[] {
  const partition = new TrendPartition(settings(overrides), tables());
  const alerts: ReorderAlert[] = [];
  for (const s of signals) {
    partition.add(s);
    alerts.push(...partition.drain().alerts);
  }
  partition.advanceTo(END + 24 * HOUR);
  alerts.push(...partition.drain().alerts);
  return alerts.filter((a) => a.sku === 'TREND');
}

describe('an episode', () => {
  const signals = stream(1);

  it('lasts through the night of a running trend and cools once the trend is over', () => {
    const alerts = alertsOf(signals);
    expect(alerts.filter((a) => a.status === 'new')).toHaveLength(1);
    const first = alerts[0]!;
    expect(Date.parse(first.windowEnd)).toBeGreaterThan(ONSET);
    expect(Date.parse(first.windowEnd)).toBeLessThan(ONSET + 6 * HOUR);
    const cooled = alerts.filter((a) => a.status === 'cooled');
    expect(cooled).toHaveLength(1);
    // Not while the trend runs: after it, within the cool-down (12 h) and a few windows.
    expect(Date.parse(cooled[0]!.windowEnd)).toBeGreaterThan(OVER);
    expect(Date.parse(cooled[0]!.windowEnd)).toBeLessThan(OVER + 16 * HOUR);
  });

  it('was told "cooled" mid-trend with the previous learning rate and cool-down', () => {
    const alerts = alertsOf(signals, {
      AGGREGATOR_EPISODE_BASELINE_HALF_LIFE_MS: String(24 * HOUR),
      AGGREGATOR_COOL_AFTER_MS: String(6 * HOUR),
    });
    const cooledMidTrend = alerts.filter((a) => a.status === 'cooled' && Date.parse(a.windowEnd) < OVER);
    expect(cooledMidTrend.length).toBeGreaterThan(0);
  });
});
