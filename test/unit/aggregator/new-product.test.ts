/**
 * A product first seen after the partition's warm-up is new: it is compared with its prior (the
 * category's share, or the default) split over the countries it appears in, for a day of windows,
 * so a launch that takes off is alerted and an ordinary one is not.
 */
import { describe, expect, it } from 'vitest';
import { TrendPartition } from '../../../services/aggregator/trends.ts';
import type { ReorderAlert, Signal } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, rng, settings, signal, T0, tables } from './fixtures.ts';

const LAUNCH = T0 + 56 * HOUR; // 08:00 UTC on the third day
const COUNTRIES = ['GB', 'FR', 'DE', 'IT', 'US', 'JP'];

function community(seed: number, launchPerHour: number): Signal[] {
  const random = rng(seed);
  const out: Signal[] = [];
  let post = 0;
  const posts = (sku: string, perHour: (t: number) => number, from: number, to: number) => {
    for (let t = from; t < to; ) {
      t += (-Math.log(1 - random()) / 20) * HOUR; // candidates at 20/h, thinned to the rate
      if (random() * 20 > perHour(t)) continue;
      const postId = `${sku}-post-${post++}`;
      const author = `m${Math.floor(random() * 20_000)}`;
      const country = COUNTRIES[Math.floor(random() * COUNTRIES.length)]!;
      out.push(signal(sku, Math.floor(t), { postId, memberId: author, country }));
      for (let k = Math.floor(random() * 4); k > 0; k--) {
        const at = Math.floor(t + random() * 60 * MIN);
        out.push(signal(sku, at, { kind: 'like', postId, postMemberId: author, country }));
      }
    }
  };
  for (let i = 0; i < 12; i++) posts(`OLD${i}`, () => 3 / (i + 1), T0, T0 + 72 * HOUR);
  posts('NEW', () => launchPerHour, LAUNCH, T0 + 72 * HOUR);
  return out.sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
}

function launchAlerts(signals: Signal[]): ReorderAlert[] {
  const partition = new TrendPartition(settings(), tables());
  const alerts: ReorderAlert[] = [];
  for (const s of signals) {
    partition.add(s);
    alerts.push(...partition.drain().alerts.filter((a) => a.sku === 'NEW' && a.status === 'new'));
  }
  return alerts;
}

describe('a new product', () => {
  it('is alerted when it takes off at launch, in many countries at once', () => {
    for (const seed of [1, 2, 3]) {
      const [first] = launchAlerts(community(seed, 8));
      expect(first, `seed ${seed}`).toBeDefined();
      expect(Date.parse(first!.windowEnd) - LAUNCH).toBeLessThan(4 * HOUR);
    }
  });

  it('is not alerted for an ordinary launch', () => {
    for (const seed of [1, 2, 3]) expect(launchAlerts(community(seed, 1.5)), `seed ${seed}`).toEqual([]);
  });
});
