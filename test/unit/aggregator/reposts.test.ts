/**
 * Reposts (services/aggregator/reposts.ts): the same photo uploaded again under other posts is one
 * photo's reach, counted as shares of the first post, so a ring of accounts re-uploading one
 * picture does not look like a trend.
 */
import { describe, expect, it } from 'vitest';
import { PhotoMemory } from '../../../services/aggregator/reposts.ts';
import { TrendPartition } from '../../../services/aggregator/trends.ts';
import type { ReorderAlert, Signal, TrendWindow } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, rng, settings, signal, T0, tables } from './fixtures.ts';

const MEMORY = 24 * HOUR;
const PHOTO = 'blob:sha256:aa11';

describe('PhotoMemory', () => {
  it('counts the first upload of a photo as an upload and later ones as shares of its post', () => {
    const memory = new PhotoMemory();
    const first = signal('S', T0, { postId: 'p1', memberId: 'alice', imageUrl: PHOTO });
    expect(memory.attribute(first, T0, MEMORY, -Infinity)).toBe(first);
    const repost = signal('S', T0 + MIN, { postId: 'p2', memberId: 'bob', imageUrl: PHOTO });
    expect(memory.attribute(repost, T0 + MIN, MEMORY, -Infinity)).toEqual({
      ...repost,
      kind: 'share',
      postId: 'p1',
      postMemberId: 'alice',
    });
    // The same post again (a re-processed upload) is not a repost of itself.
    expect(memory.attribute(first, T0 + 2 * MIN, MEMORY, -Infinity)).toBe(first);
    // Another photo is another upload.
    const other = signal('S', T0 + 3 * MIN, { postId: 'p3', imageUrl: 'blob:sha256:bb22' });
    expect(memory.attribute(other, T0 + 3 * MIN, MEMORY, -Infinity)).toBe(other);
  });

  it('moves interactions on a repost onto the first post, and leaves others alone', () => {
    const memory = new PhotoMemory();
    memory.attribute(signal('S', T0, { postId: 'p1', memberId: 'alice', imageUrl: PHOTO }), T0, MEMORY, -1);
    memory.attribute(signal('S', T0, { postId: 'p2', memberId: 'bob', imageUrl: PHOTO }), T0, MEMORY, -1);
    const likeOfRepost = signal('S', T0 + MIN, { kind: 'like', postId: 'p2', postMemberId: 'bob' });
    expect(memory.attribute(likeOfRepost, T0 + MIN, MEMORY, -1)).toMatchObject({
      kind: 'like',
      postId: 'p1',
      postMemberId: 'alice',
      memberId: likeOfRepost.memberId,
    });
    const likeOfFirst = signal('S', T0 + MIN, { kind: 'like', postId: 'p1', postMemberId: 'alice' });
    expect(memory.attribute(likeOfFirst, T0 + MIN, MEMORY, -1)).toBe(likeOfFirst);
  });

  it('forgets a photo after the memory span: an upload a month later is an upload again', () => {
    const memory = new PhotoMemory();
    memory.attribute(signal('S', T0, { postId: 'p1', imageUrl: PHOTO }), T0, MEMORY, -1);
    const later = signal('S', T0 + 30 * MEMORY, { postId: 'p2', imageUrl: PHOTO });
    expect(memory.attribute(later, T0 + 30 * MEMORY, MEMORY, -1)).toBe(later);
    // ... and that upload is the photo's first post from then on.
    const repost = signal('S', T0 + 30 * MEMORY + MIN, { postId: 'p3', imageUrl: PHOTO });
    expect(memory.attribute(repost, T0 + 30 * MEMORY + MIN, MEMORY, -1).postId).toBe('p2');
  });

  it('keeps in its changelog form only what a signal still to come could match', () => {
    const memory = new PhotoMemory();
    for (let i = 0; i < 10; i++) {
      const at = T0 + i * HOUR;
      const first = signal('S', at, { postId: `p${i}`, memberId: `a${i}`, imageUrl: `blob:sha256:${i}` });
      memory.attribute(first, at, HOUR, -1);
    }
    const repostOf9 = signal('S', T0 + 9 * HOUR, { postId: 'r9', imageUrl: 'blob:sha256:9' });
    memory.attribute(repostOf9, T0 + 9 * HOUR, HOUR, -1);
    // Signals from T0 + 8 h on can still be counted: photos older than 7 h cannot match them.
    const kept = memory.serialize(T0 + 8 * HOUR, HOUR)!;
    expect(kept.photos.map(([key]) => key)).toEqual(['blob:sha256:7', 'blob:sha256:8', 'blob:sha256:9']);
    expect(kept.reposts).toEqual([['r9', 'p9', 'a9', T0 + 9 * HOUR]]);
    const restored = new PhotoMemory(JSON.parse(JSON.stringify(kept)));
    const repost = signal('S', T0 + 9 * HOUR, { postId: 'r8', imageUrl: 'blob:sha256:8' });
    expect(restored.attribute(repost, T0 + 9 * HOUR, HOUR, T0 + 8 * HOUR)).toMatchObject({
      kind: 'share',
      postId: 'p8',
    });
    expect(new PhotoMemory().serialize(T0, HOUR)).toBeUndefined();
  });
});

/** A quiet product, and a ring of 40 accounts re-uploading one of its photos within 30 minutes. */
function ringDay(seed: number): Signal[] {
  const random = rng(seed);
  const out: Signal[] = [];
  let post = 0;
  const upload = (sku: string, at: number) => {
    const postId = `${sku}-post-${post++}`;
    const memberId = `m${Math.floor(random() * 5000)}`;
    out.push(signal(sku, at, { postId, memberId, imageUrl: `blob:sha256:${postId}` }));
    out.push(signal(sku, at + 10 * MIN, { kind: 'like', postId, postMemberId: memberId }));
  };
  for (const sku of ['RING', 'Q1', 'Q2', 'Q3']) {
    for (let t = T0; t < T0 + 14 * HOUR; ) {
      t += (-Math.log(1 - random()) / 3) * HOUR;
      upload(sku, Math.floor(t));
    }
  }
  const ringStart = T0 + 9 * HOUR;
  const original = out.find(
    (s) => s.sku === 'RING' && s.kind === 'upload' && Date.parse(s.eventTime) < ringStart,
  )!;
  for (let k = 0; k < 40; k++) {
    const at = ringStart + Math.floor((k / 40) * 30 * MIN);
    out.push(
      signal('RING', at, {
        postId: `ring-post-${k}`,
        memberId: `ring-${k}`,
        country: 'FR',
        imageUrl: original.imageUrl,
      }),
    );
    // Each account likes five other reposts of the ring.
    for (let j = 1; j <= 5; j++) {
      const liked = (k + j) % 40;
      out.push(
        signal('RING', at + j * MIN, {
          kind: 'like',
          postId: `ring-post-${liked}`,
          postMemberId: `ring-${liked}`,
          memberId: `ring-${k}`,
          country: 'FR',
        }),
      );
    }
  }
  return out.sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
}

function run(
  signals: Signal[],
  overrides: Record<string, string> = {},
  restartAt: number | null = null,
): { alerts: ReorderAlert[]; windows: TrendWindow[]; reposts: number } {
  const make = () =>
    new TrendPartition(settings({ AGGREGATOR_WARMUP_MS: String(6 * HOUR), ...overrides }), tables());
  let partition = make();
  const changelog = new Map<string, unknown>();
  const alerts: ReorderAlert[] = [];
  const windows: TrendWindow[] = [];
  let reposts = 0;
  const collect = () => {
    for (const [key, value] of partition.takeChanges()) changelog.set(key, JSON.parse(JSON.stringify(value)));
    const out = partition.drain();
    alerts.push(...out.alerts);
    windows.push(...out.windows);
    reposts += out.reposts;
  };
  signals.forEach((s, i) => {
    if (i === restartAt) {
      partition = make();
      for (const [key, value] of changelog) partition.restore(key, value);
    }
    partition.add(s);
    collect();
  });
  partition.advanceTo(T0 + 24 * HOUR);
  collect();
  return { alerts, windows, reposts };
}

describe('a repost ring', () => {
  const signals = ringDay(3);

  it('raises no alert: its reposts count as shares of the one photo', () => {
    const { alerts, reposts, windows } = run(signals);
    expect(alerts).toEqual([]);
    expect(reposts).toBe(40);
    const ringWindow = windows.find(
      (w) =>
        w.sku === 'RING' && w.scope === 'global' && w.windowEnd === new Date(T0 + 10 * HOUR).toISOString(),
    )!;
    expect(ringWindow.countsByKind.share).toBe(40);
  });

  it('would look like a trend if every upload counted (AGGREGATOR_REPOST_MEMORY_MS=0)', () => {
    const { alerts, reposts } = run(signals, { AGGREGATOR_REPOST_MEMORY_MS: '0' });
    expect(reposts).toBe(0);
    expect([...new Set(alerts.map((a) => a.sku))]).toEqual(['RING']);
  });

  it('is recognised the same after a restart in the middle of the ring', () => {
    const uninterrupted = run(signals);
    const ringSignal = signals.findIndex((s) => s.postId === 'ring-post-20' && s.kind === 'upload');
    const restarted = run(signals, {}, ringSignal);
    expect(restarted.reposts).toBe(40);
    // Within one closing step SKUs may close in another order after a restore; the windows are the same.
    const byId = (windows: TrendWindow[]) =>
      [...windows].sort((a, b) => a.windowId.localeCompare(b.windowId));
    expect(byId(restarted.windows)).toEqual(byId(uninterrupted.windows));
    expect(restarted.alerts).toEqual(uninterrupted.alerts);
  });
});
