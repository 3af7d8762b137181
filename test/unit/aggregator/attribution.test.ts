import { describe, expect, it } from 'vitest';
import { Attributor, PENDING_MAX_PER_POST } from '../../../services/aggregator/attribution.ts';
import type { Interaction, Mention } from '../../../shared/contracts/events.ts';
import { HOUR, MIN, T0 } from './fixtures.ts';

const at = (ms: number) => new Date(ms).toISOString();
const limits = {
  pendingMax: 100,
  pendingMaxWaitMs: 2 * HOUR,
  postTtlMs: 30 * 24 * HOUR,
  dedupeHorizonMs: 27 * HOUR,
};

function mention(postId: string, sku: string | null, time = T0, imageIndex = 0): Mention {
  const base = {
    mentionId: `up-${postId}:${imageIndex}:${sku ?? 'none'}`,
    uploadEventId: `up-${postId}`,
    postId,
    memberId: `author-${postId}`,
    imageIndex,
    imageUrl: `https://img.example/${postId}/${imageIndex}.jpg`,
    location: { country: 'FR', city: 'Paris' },
    eventTime: at(time),
    modelId: 'squeezenet1.1',
    processedAt: at(time + 2_000),
  };
  return sku === null
    ? { ...base, kind: 'no-match', candidates: [] }
    : { ...base, kind: 'mention', sku, score: 0.91, rank: 1 };
}

function interaction(
  eventId: string,
  postId: string,
  time: number,
  extra: Partial<Interaction> = {},
): Interaction {
  return {
    eventId,
    type: 'save',
    postId,
    memberId: `fan-${eventId}`,
    timestamp: at(time),
    receivedAt: at(time),
    source: 'app',
    ...extra,
  };
}

describe('attribution', () => {
  it('turns a mention into an upload signal and joins later interactions to every SKU of the post', () => {
    const a = new Attributor<string>(limits);
    const first = a.onMention(mention('p1', 'RED-SHOE', T0));
    expect(first.signals).toEqual([
      expect.objectContaining({
        signalId: 'up-p1|RED-SHOE|upload',
        kind: 'upload',
        memberId: 'author-p1',
        postMemberId: 'author-p1',
        country: 'FR',
        imageUrl: 'https://img.example/p1/0.jpg',
      }),
    ]);
    a.onMention(mention('p1', 'BAG', T0, 1));
    const liked = a.onInteraction(interaction('i1', 'p1', T0 + MIN, { country: 'IT' }), 'ref-i1');
    expect(liked.signals.map((s) => [s.signalId, s.sku, s.kind, s.country, s.postMemberId])).toEqual([
      ['i1|RED-SHOE', 'RED-SHOE', 'save', 'IT', 'author-p1'],
      ['i1|BAG', 'BAG', 'save', 'IT', 'author-p1'],
    ]);
  });

  it('does not count a re-processed upload twice', () => {
    const a = new Attributor<string>(limits);
    expect(a.onMention(mention('p1', 'RED-SHOE')).signals).toHaveLength(1);
    expect(a.onMention(mention('p1', 'RED-SHOE')).signals).toHaveLength(0);
  });

  it('holds an interaction that overtook its mention and releases it when the mention comes', () => {
    const a = new Attributor<string>(limits);
    const early = a.onInteraction(interaction('i1', 'p1', T0 + MIN), 'ref-i1');
    expect(early.signals).toEqual([]);
    expect(a.waiting).toBe(1);
    const released = a.onMention(mention('p1', 'RED-SHOE', T0));
    expect(released.signals.map((s) => s.signalId)).toEqual(['up-p1|RED-SHOE|upload', 'i1|RED-SHOE']);
    expect(a.waiting).toBe(0);
  });

  it('hands back, with their reference, interactions that waited too long in event time', () => {
    const a = new Attributor<string>(limits);
    a.onInteraction(interaction('orphan', 'never-matched', T0), 'ref-orphan');
    const later = a.onMention(mention('p2', 'BAG', T0 + 3 * HOUR));
    expect(later.expired).toEqual([
      expect.objectContaining({
        pending: expect.objectContaining({ ref: 'ref-orphan' }),
        reason: 'no mention for the post within the wait limit',
      }),
    ]);
    expect(a.waiting).toBe(0);
  });

  it('keeps waiting while the embedder is behind: the mentions, not only the interactions, must pass the limit', () => {
    const a = new Attributor<string>(limits);
    a.onMention(mention('known', 'BAG', T0));
    a.onInteraction(interaction('early', 'late-upload', T0 + MIN), 'ref-early');
    // Interactions on a known post carry the stream three hours on; no mention after T0 yet.
    const ahead = a.onInteraction(interaction('busy', 'known', T0 + 3 * HOUR), 'ref-busy');
    expect(ahead.expired).toEqual([]);
    expect(a.waiting).toBe(1);
    // The embedder catches up: the post's mention comes, and the interaction is attributed.
    const caughtUp = a.onMention(mention('late-upload', 'RED-SHOE', T0 + MIN / 2));
    expect(caughtUp.signals.map((s) => s.signalId)).toEqual([
      'up-late-upload|RED-SHOE|upload',
      'early|RED-SHOE',
    ]);
    expect(a.waiting).toBe(0);
  });

  it('restores how far the mentions have come, and reads state written before it was kept', () => {
    const a = new Attributor<string>(limits);
    a.onMention(mention('known', 'BAG', T0));
    a.onInteraction(interaction('early', 'never-matched', T0 + MIN), 'ref-early');
    const restored = new Attributor<string>(limits);
    for (const [key, value] of a.takeChanges()) restored.restore(key, JSON.parse(JSON.stringify(value)));
    expect(restored.onInteraction(interaction('busy', 'known', T0 + 3 * HOUR), 'ref').expired).toEqual([]);
    const expired = restored.onMention(mention('p3', 'BAG', T0 + 3 * HOUR)).expired;
    expect(expired.map((e) => e.pending.ref)).toEqual(['ref-early']);

    const older = new Attributor<string>(limits);
    older.restore('meta', { streamTime: T0, lastSweep: null });
    older.onInteraction(interaction('waits', 'nobody', T0 + MIN), 'ref-waits');
    expect(older.onInteraction(interaction('busy2', 'nobody-else', T0 + 3 * HOUR), 'r').expired).toEqual([]);
  });

  it('bounds the number waiting and hands back the oldest', () => {
    const a = new Attributor<string>({ ...limits, pendingMax: 3 });
    const outs = ['a', 'b', 'c', 'd', 'e'].map((id, i) =>
      a.onInteraction(interaction(id, `post-${id}`, T0 + i), `ref-${id}`),
    );
    expect(outs.flatMap((o) => o.expired.map((e) => e.pending.ref))).toEqual(['ref-a', 'ref-b']);
    expect(a.waiting).toBe(3);
  });

  it("bounds one post's waiting list, so that its changelog record stays under the size limit", () => {
    const a = new Attributor<string>({ ...limits, pendingMax: 10 * PENDING_MAX_PER_POST });
    const expired: string[] = [];
    // The service keeps the original record with each one (base64, a few hundred bytes).
    const original = 'x'.repeat(600);
    for (let i = 0; i <= PENDING_MAX_PER_POST + 1; i++) {
      const out = a.onInteraction(interaction(`i${i}`, 'viral', T0 + i), `${original}-${i}`);
      expired.push(...out.expired.map((e) => `${e.pending.ref.slice(-6)}: ${e.reason}`));
    }
    expect(expired).toEqual([
      'xxxx-0: too many interactions waiting for one post',
      'xxxx-1: too many interactions waiting for one post',
    ]);
    expect(a.waiting).toBe(PENDING_MAX_PER_POST);
    const [, value] = a.takeChanges().find(([key]) => key === 'pending|viral')!;
    expect(JSON.stringify(value).length).toBeLessThan(8 * 1024 * 1024);
  });

  it('counts interactions on photos that matched no product as unattributed, not as signals', () => {
    const a = new Attributor<string>(limits);
    a.onMention(mention('p1', null));
    const out = a.onInteraction(interaction('i1', 'p1', T0 + MIN), 'ref');
    expect(out.signals).toEqual([]);
    expect(out.unattributed).toBe(1);
  });

  it('restores from its changelog with the waiting interactions intact', () => {
    const a = new Attributor<string>(limits);
    a.onMention(mention('p1', 'RED-SHOE', T0));
    a.onInteraction(interaction('i9', 'p9', T0 + MIN), 'ref-i9');
    const restored = new Attributor<string>(limits);
    for (const [key, value] of a.takeChanges()) restored.restore(key, JSON.parse(JSON.stringify(value)));
    expect(restored.waiting).toBe(1);
    expect(restored.onInteraction(interaction('i2', 'p1', T0 + 2 * MIN), 'r').signals).toHaveLength(1);
    expect(restored.onMention(mention('p9', 'BAG', T0 + 3 * MIN)).signals.map((s) => s.signalId)).toEqual([
      'up-p9|BAG|upload',
      'i9|BAG',
    ]);
  });

  it('drops a re-delivered interaction (same event id), attributed or still waiting, and says so', () => {
    const a = new Attributor<string>(limits);
    a.onMention(mention('p1', 'RED-SHOE', T0));
    expect(a.onInteraction(interaction('i1', 'p1', T0 + MIN), 'r1').signals).toHaveLength(1);
    const again = a.onInteraction(interaction('i1', 'p1', T0 + MIN), 'r1-retry');
    expect(again.signals).toEqual([]);
    expect(again.duplicates).toBe(1);
    // Both copies arrive before the post's mention: the mention releases one.
    a.onInteraction(interaction('i2', 'p2', T0 + 2 * MIN), 'r2');
    expect(a.onInteraction(interaction('i2', 'p2', T0 + 2 * MIN), 'r2-retry').duplicates).toBe(1);
    expect(a.onMention(mention('p2', 'BAG', T0 + 3 * MIN)).signals.map((s) => s.signalId)).toEqual([
      'up-p2|BAG|upload',
      'i2|BAG',
    ]);
  });

  it('remembers event ids across a restore, forgets them past the horizon, and takes back an expired one', () => {
    const a = new Attributor<string>(limits);
    a.onMention(mention('p1', 'RED-SHOE', T0));
    a.onInteraction(interaction('i1', 'p1', T0 + MIN), 'r1');
    a.onInteraction(interaction('orphan', 'never-matched', T0 + MIN), 'r-orphan');
    const restored = new Attributor<string>(limits);
    for (const [key, value] of a.takeChanges()) restored.restore(key, JSON.parse(JSON.stringify(value)));
    expect(restored.onInteraction(interaction('i1', 'p1', T0 + MIN), 'r').duplicates).toBe(1);
    // Three hours on, the orphan has expired to the dead letters: re-driven, it is taken again.
    const later = restored.onMention(mention('p3', 'BAG', T0 + 3 * HOUR));
    expect(later.expired.map((e) => e.pending.ref)).toEqual(['r-orphan']);
    const redriven = restored.onInteraction(interaction('orphan', 'never-matched', T0 + MIN), 'r-again');
    expect(redriven.duplicates).toBe(0);
    expect(restored.waiting).toBe(1);
    // Past the horizon (a day of windows, grace and the wait), the id is forgotten.
    restored.onMention(mention('p4', 'BAG', T0 + 30 * HOUR));
    const changes = new Map(restored.takeChanges());
    expect(changes.get('seen|i1')).toBeNull();
  });
});
