/**
 * One member's weight on one product (services/aggregator/member-budget.ts): however many posts a
 * member likes, saves or comments on, their interactions with one SKU count for at most the cap in
 * any window, so one account cannot pass for the interest of every author it touched.
 */
import { describe, expect, it } from 'vitest';
import { MemberBudget } from '../../../services/aggregator/member-budget.ts';
import { TrendPartition } from '../../../services/aggregator/trends.ts';
import type { ReorderAlert, Signal, TrendWindow } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, rng, settings, signal, T0, tables } from './fixtures.ts';

const PANES = 12;

describe('MemberBudget', () => {
  it("counts a member's interactions up to the cap in the windows holding their pane, then nothing", () => {
    const budget = new MemberBudget();
    const counted = Array.from({ length: 6 }, () => budget.counted('spam', 100, 2, 8, PANES, 0));
    expect(counted).toEqual([2, 2, 2, 2, 0, 0]);
    // A part of the weight when less is left.
    expect(new MemberBudget().counted('m', 100, 10, 8, PANES, 0)).toBe(8);
    // Another member has a budget of their own.
    expect(budget.counted('other', 100, 2, 8, PANES, 0)).toBe(2);
  });

  it('frees the budget once the spent panes have left every window holding the new pane', () => {
    const budget = new MemberBudget();
    expect(budget.counted('m', 100, 8, 8, PANES, 0)).toBe(8);
    expect(budget.counted('m', 111, 1, 8, PANES, 0)).toBe(0); // the window of panes 100–111
    expect(budget.counted('m', 112, 1, 8, PANES, 0)).toBe(1); // no window holds 100 and 112
  });

  it('keeps every window within the cap when interactions arrive out of order', () => {
    const budget = new MemberBudget();
    expect(budget.counted('m', 110, 6, 8, PANES, 0)).toBe(6);
    // Pane 100 shares the windows ending at 110 and 111 with pane 110: only 2 are left there.
    expect(budget.counted('m', 100, 5, 8, PANES, 0)).toBe(2);
    // Pane 98 shares no window with 110: its own windows hold pane 100's 2.
    expect(budget.counted('m', 98, 8, 8, PANES, 0)).toBe(6);
  });

  it('keeps in its changelog form only the panes a window can still hold', () => {
    const budget = new MemberBudget();
    budget.counted('a', 10, 3, 8, PANES, 0);
    budget.counted('a', 30, 4, 8, PANES, 0);
    budget.counted('b', 12, 1, 8, PANES, 0);
    const kept = budget.serialize(20)!;
    expect(kept).toEqual([['a', [[30, 4]]]]);
    const restored = new MemberBudget(JSON.parse(JSON.stringify(kept)));
    expect(restored.counted('a', 31, 8, 8, PANES, 20)).toBe(4);
    expect(new MemberBudget().serialize(0)).toBeUndefined();
  });
});

const ATTACK = T0 + 40 * HOUR;

/** A steady product and a few others over two days, then one account likes 80 of its posts. */
function spamDay(seed: number): Signal[] {
  const random = rng(seed);
  const out: Signal[] = [];
  const posts: Array<{ postId: string; author: string }> = [];
  let post = 0;
  for (const [sku, perHour] of [
    ['M', 2],
    ['A', 6],
    ['B', 4],
    ['C', 3],
  ] as const) {
    for (let t = T0; t < T0 + 44 * HOUR; ) {
      t += (-Math.log(1 - random()) / perHour) * HOUR;
      const postId = `${sku}-post-${post++}`;
      const author = `m${Math.floor(random() * 5000)}`;
      const country = random() < 0.5 ? 'GB' : 'FR';
      out.push(signal(sku, Math.floor(t), { postId, memberId: author, country }));
      for (let i = Math.floor(random() * 4); i > 0; i--) {
        const at = Math.floor(t + random() * 2 * HOUR);
        out.push(signal(sku, at, { kind: 'like', postId, postMemberId: author, country }));
      }
      if (sku === 'M' && t < ATTACK) posts.push({ postId, author });
    }
  }
  for (const { postId, author } of posts.slice(-80)) {
    const at = ATTACK + Math.floor(random() * 30 * MIN);
    out.push(signal('M', at, { kind: 'like', postId, postMemberId: author, memberId: 'spam-account' }));
  }
  return out.sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
}

function run(
  signals: Signal[],
  overrides: Record<string, string> = {},
  restartAt: number | null = null,
): { alerts: ReorderAlert[]; windows: TrendWindow[] } {
  const make = () =>
    new TrendPartition(settings({ AGGREGATOR_WARMUP_MS: String(12 * HOUR), ...overrides }), tables());
  let partition = make();
  const changelog = new Map<string, unknown>();
  const alerts: ReorderAlert[] = [];
  const windows: TrendWindow[] = [];
  signals.forEach((s, i) => {
    if (i === restartAt) {
      partition = make();
      for (const [key, value] of changelog) partition.restore(key, value);
    }
    partition.add(s);
    for (const [key, value] of partition.takeChanges()) changelog.set(key, JSON.parse(JSON.stringify(value)));
    const out = partition.drain();
    alerts.push(...out.alerts);
    windows.push(...out.windows);
  });
  return { alerts, windows };
}

describe('one account liking eighty photos of a product', () => {
  const signals = spamDay(4);
  const raised = (alerts: ReorderAlert[]) =>
    alerts.filter((a) => a.sku === 'M' && a.status === 'new' && Date.parse(a.windowEnd) >= ATTACK);

  it('raises no alert: the account counts for the cap, not for eighty people', () => {
    expect(raised(run(signals).alerts)).toEqual([]);
  });

  it('would look like a trend without the cap (AGGREGATOR_MEMBER_INTERACTION_CAP=0)', () => {
    expect(raised(run(signals, { AGGREGATOR_MEMBER_INTERACTION_CAP: '0' }).alerts)).not.toEqual([]);
  });

  it('counts the same after a restart in the middle of the spree', () => {
    const uninterrupted = run(signals);
    const restartAt = signals.findIndex((s) => s.memberId === 'spam-account') + 30;
    const restarted = run(signals, {}, restartAt);
    const byId = (windows: TrendWindow[]) =>
      [...windows].sort((a, b) => a.windowId.localeCompare(b.windowId));
    expect(byId(restarted.windows)).toEqual(byId(uninterrupted.windows));
    expect(restarted.alerts).toEqual(uninterrupted.alerts);
  });
});
