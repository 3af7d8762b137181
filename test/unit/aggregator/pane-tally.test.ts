import { describe, expect, it } from 'vitest';
import {
  addToPane,
  authorId,
  DayTally,
  deserializePane,
  emptyMeasures,
  emptyPane,
  Interner,
  mergedByKind,
  PaneSeries,
  type PaneTally,
  paneToTally,
  SpanScanner,
  serializePane,
} from '../../../services/aggregator/pane-tally.ts';
import {
  addToTally,
  emptyTally,
  evidenceOf,
  mergeTallies,
  type SignalFacts,
  type Tally,
} from '../../../services/aggregator/scoring.ts';
import { parseTime } from '../../../services/aggregator/trends.ts';
import type { SignalKind } from '../../../shared/contracts/events.ts';
import { rng, settings } from './fixtures.ts';

const KINDS: SignalKind[] = ['upload', 'like', 'save', 'wishlist', 'share', 'comment'];

/** Random signals over a few members and posts, so that members, posts and authors repeat. */
function randomSignals(random: () => number, n: number): SignalFacts[] {
  return Array.from({ length: n }, () => {
    const kind = KINDS[Math.floor(random() * KINDS.length)]!;
    const post = Math.floor(random() * 6);
    const withAuthor = random() < 0.7;
    const withImage = random() < 0.8;
    return {
      kind,
      postId: `p${post}`,
      memberId: `m${Math.floor(random() * 5)}`,
      postMemberId: withAuthor ? `m${(post * 3) % 5}` : undefined,
      country: ['GB', 'FR', 'IT'][Math.floor(random() * 3)]!,
      imageUrl: withImage ? `https://img.example/p${post}/${Math.floor(random() * 3)}.jpg` : undefined,
      matchScore: random() < 0.8 ? Math.round(random() * 10) / 10 : undefined,
    };
  });
}

describe('compact panes', () => {
  // Weights that are not binary fractions, so that any change in the order of additions shows.
  const s = settings({
    AGGREGATOR_WEIGHTS: 'upload=5.1,like=0.7,save=3.3,wishlist=2.9,share=1.9,comment=1.3',
    AGGREGATOR_POST_INTERACTION_CAP: '2.2',
  });

  it('measures a span exactly as the merge of the string tallies and evidenceOf (same floating point)', () => {
    const random = rng(7);
    for (let round = 0; round < 300; round++) {
      const interner = new Interner();
      const withCountries = round % 2 === 0;
      const panes: PaneTally[] = [];
      const tallies: Tally[] = [];
      const paneCount = 1 + Math.floor(random() * 5);
      for (let p = 0; p < paneCount; p++) {
        const pane = emptyPane(withCountries);
        const tally = emptyTally();
        for (const signal of randomSignals(random, Math.floor(random() * 9))) {
          const weight = s.weights[signal.kind];
          const member = interner.id(signal.memberId);
          const ids = {
            member,
            post: interner.id(signal.postId),
            author: authorId(signal, member, interner),
          };
          addToPane(pane, signal, ids, weight);
          addToTally(tally, signal, weight, withCountries);
        }
        panes.push(pane);
        tallies.push(tally);
        expect(paneToTally(pane, interner)).toEqual(tally);
      }
      const merged = mergeTallies(tallies, withCountries);
      const measured = new SpanScanner(interner).measure(panes, s, emptyMeasures());
      expect(measured).toEqual({
        signals: merged.signals,
        raw: merged.raw,
        squares: merged.squares,
        uploads: merged.byKind.upload ?? 0,
        distinctMembers: merged.members.size,
        distinctUploaders: merged.uploaders.size,
        lastPaneNewUploaders:
          merged.uploaders.size -
          (paneCount > 1 ? mergeTallies(tallies.slice(0, -1), false).uploaders.size : 0),
        evidence: evidenceOf(merged, s),
      });
      expect(JSON.stringify(mergedByKind(panes))).toBe(JSON.stringify(merged.byKind));
    }
  });

  it('measures a window and its two sub-spans at once exactly as three separate measures', () => {
    const random = rng(21);
    let small = 0;
    for (let round = 0; round < 400; round++) {
      const interner = new Interner();
      const panes: PaneTally[] = [];
      // Mostly windows of a few signals (the path on scratch arrays), some past its 48 ids.
      const perPane = round % 10 === 0 ? 12 : 4;
      for (let p = 0; p < 12; p++) {
        const pane = emptyPane(round % 2 === 0);
        for (const signal of randomSignals(random, Math.floor(random() * perPane))) {
          // Ids across a wider range than randomSignals' five members, so that lists can be long.
          const member = interner.id(`${signal.memberId}-${Math.floor(random() * 20)}`);
          const ids = {
            member,
            post: interner.id(signal.postId),
            author: authorId(signal, member, interner),
          };
          addToPane(pane, signal, ids, s.weights[signal.kind]);
        }
        panes.push(pane);
      }
      const from = Math.floor(random() * 3);
      const to = from + 1 + Math.floor(random() * (12 - from));
      const recentFrom = Math.max(from, to - Math.floor(random() * 4));
      const beforeFrom = Math.max(from, recentFrom - Math.floor(random() * 4));
      if (panes.slice(from, to).reduce((n, pane) => n + pane.members.length, 0) <= 48) small++;
      const scanner = new SpanScanner(interner);
      const [window, recent, before] = [emptyMeasures(), emptyMeasures(), emptyMeasures()];
      scanner.measureWindow(panes, from, beforeFrom, recentFrom, to, s, window, recent, before);
      const separate = new SpanScanner(interner);
      expect(window).toEqual(separate.measure(panes, s, emptyMeasures(), from, to));
      expect(recent).toEqual(separate.measure(panes, s, emptyMeasures(), recentFrom, to));
      expect(before).toEqual(separate.measure(panes, s, emptyMeasures(), beforeFrom, recentFrom));
      expect(window).toEqual(new SpanScanner(interner).measure(panes.slice(from, to), s, emptyMeasures()));
    }
    // Both paths were taken.
    expect(small).toBeGreaterThan(100);
    expect(small).toBeLessThan(400);
  });

  it('keeps a busy pane to about its distinct members, and measures it as before', () => {
    const random = rng(13);
    const interner = new Interner();
    const scanner = new SpanScanner(interner);
    const kept = [emptyPane(true), emptyPane(false)];
    const plain = [emptyPane(true), emptyPane(false)];
    // Ten thousand signals from five members: the id lists hold repeats until they pass 64.
    for (let p = 0; p < 2; p++)
      for (const signal of randomSignals(random, 10_000)) {
        const member = interner.id(signal.memberId);
        const ids = { member, post: interner.id(signal.postId), author: authorId(signal, member, interner) };
        const weight = s.weights[signal.kind];
        addToPane(plain[p]!, signal, ids, weight);
        addToPane(kept[p]!, signal, ids, weight);
        if (kept[p]!.members.length > kept[p]!.dedupeAt) scanner.dedupe(kept[p]!);
      }
    for (const pane of kept) expect(pane.members.length).toBeLessThanOrEqual(64 + 1);
    expect(plain[0]!.members.length).toBe(10_000);
    expect(scanner.measure(kept, s, emptyMeasures())).toEqual(
      new SpanScanner(interner).measure(plain, s, emptyMeasures()),
    );
    expect(kept.map((pane) => serializePane(pane, interner))).toEqual(
      plain.map((pane) => serializePane(pane, interner)),
    );
  });

  it('round-trips through the changelog form of the string tally, and survives renumbering', () => {
    const random = rng(11);
    const interner = new Interner();
    const panes = [emptyPane(true), emptyPane(false)];
    for (const pane of panes)
      for (const signal of randomSignals(random, 20))
        addToPane(
          pane,
          signal,
          {
            member: interner.id(signal.memberId),
            post: interner.id(signal.postId),
            author: authorId(signal, interner.id(signal.memberId), interner),
          },
          s.weights[signal.kind],
        );
    const before = panes.map((pane) => JSON.stringify(serializePane(pane, interner)));
    interner.id('unreferenced');
    interner.compact(panes);
    expect(panes.map((pane) => JSON.stringify(serializePane(pane, interner)))).toEqual(before);
    const other = new Interner();
    other.id('shifts every id');
    const restored = panes.map((pane, i) =>
      deserializePane(JSON.parse(before[i]!), pane.countries !== null, other),
    );
    expect(restored.map((pane) => JSON.stringify(serializePane(pane, other)))).toEqual(before);
    const a = new SpanScanner(interner).measure(panes, s, emptyMeasures());
    const b = new SpanScanner(other).measure(restored, s, emptyMeasures());
    expect(b).toEqual(a);
  });
  it('folds a day tally in batches into exactly the pane addToPane builds signal by signal', () => {
    const random = rng(17);
    const interner = new Interner();
    const scanner = new SpanScanner(interner);
    const day = new DayTally();
    const plain = emptyPane(false);
    // Wider posts and members than randomSignals' own, so that the day holds hundreds of posts,
    // folds many times (after 64 entries, then as it grows), and uploads meet posts seen before.
    for (let i = 0; i < 5000; i++) {
      const signal = randomSignals(random, 1)[0]!;
      const member = interner.id(`${signal.memberId}-${Math.floor(random() * 40)}`);
      const ids = {
        member,
        post: interner.id(`${signal.postId}-${Math.floor(random() * 100)}`),
        author: authorId(signal, member, interner),
      };
      const weight = s.weights[signal.kind];
      day.add(signal, ids, weight, scanner);
      addToPane(plain, signal, ids, weight);
      if (plain.members.length > plain.dedupeAt) scanner.dedupe(plain);
      if (i === 63 || i === 1999) {
        expect(serializePane(day.settled(scanner), interner)).toEqual(serializePane(plain, interner));
      }
    }
    const folded = day.settled(scanner);
    expect(folded.posts.length).toBeGreaterThan(300);
    expect(serializePane(folded, interner)).toEqual(serializePane(plain, interner));
    expect(scanner.measure([folded], s, emptyMeasures())).toEqual(
      new SpanScanner(interner).measure([plain], s, emptyMeasures()),
    );
  });
});

describe('pane series', () => {
  it('keeps panes sorted by index, reports them in order of creation, drops the old ones', () => {
    const series = new PaneSeries();
    const pane = (n: number) => ({ ...emptyPane(false), signals: n });
    series.insert(5, pane(5));
    series.insert(7, pane(7));
    series.insert(6, pane(6));
    series.insert(2, pane(2));
    expect(series.indices).toEqual([2, 5, 6, 7]);
    expect(series.get(6)?.signals).toBe(6);
    expect(series.get(4)).toBeUndefined();
    expect(series.entries().map(([i]) => i)).toEqual([5, 7, 6, 2]);
    series.dropBefore(6);
    expect(series.indices).toEqual([6, 7]);
    expect(series.entries().map(([i]) => i)).toEqual([7, 6]);
  });
});

describe('event time', () => {
  it('parses exactly as Date.parse, canonical or not', () => {
    const texts = [
      '2026-03-02T00:00:00.000Z',
      '2024-02-29T23:59:59.999Z',
      '2023-02-29T00:00:00.000Z',
      '2100-02-29T00:00:00.000Z',
      '2000-02-29T00:00:00.000Z',
      '0050-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '2026-03-02T24:00:00.000Z',
      '2026-03-02T00:00:00Z',
      '2026-03-02T01:02:03.004+01:00',
      'not a time at all, 24 ch',
    ];
    for (const text of texts) expect(Object.is(parseTime(text), Date.parse(text))).toBe(true);
    const random = rng(3);
    for (let i = 0; i < 2000; i++) {
      const text = new Date(Math.floor((random() - 0.3) * 8e12)).toISOString();
      expect(parseTime(text)).toBe(Date.parse(text));
    }
  });
});
