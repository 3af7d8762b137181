/**
 * Event-time alignment of a stage's input partitions (pure parts): which records of the batches
 * in hand go next, and which windowing partitions count as idle. Regression for the late signals
 * of a backlog replay: a partition whose batch was used up did not hold the others back, so the
 * mentions ran a day ahead of the interactions and the repartitioned signals came out late.
 */
import { describe, expect, it } from 'vitest';
import {
  heldBackAt,
  type PartitionPosition,
  takeInEventTimeOrder,
} from '../../../services/aggregator/alignment.ts';
import { idleAdvances } from '../../../services/aggregator/idle-partitions.ts';
import { HOUR, MIN, T0 } from './fixtures.ts';

const batch = (times: number[], next = 0, reached = Number.NEGATIVE_INFINITY) => ({ times, next, reached });
const none = Number.POSITIVE_INFINITY;

describe('records in event-time order across the batches in hand', () => {
  it('merges the batches by event time', () => {
    const a = batch([T0, T0 + 2 * MIN, T0 + 4 * MIN, T0 + 6 * MIN]);
    const b = batch([T0 + MIN, T0 + 3 * MIN, T0 + 5 * MIN, T0 + 7 * MIN]);
    // b is used up at T0 + 7 min; a has nothing left after it anyway.
    expect(takeInEventTimeOrder([a, b], none, MIN, 100)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(takeInEventTimeOrder([a, b], none, MIN, 3)).toEqual([0, 1, 0]);
  });

  it('holds every batch back once one is used up: its next records are still on the broker', () => {
    // A dense partition (one batch = 20 min) beside a sparse one (one batch = 10 h).
    const dense = batch(Array.from({ length: 20 }, (_, i) => T0 + i * MIN));
    const sparse = batch(Array.from({ length: 10 }, (_, i) => T0 + i * HOUR));
    const picked = takeInEventTimeOrder([dense, sparse], none, MIN, 1_000);
    // Everything of the dense batch, and of the sparse one only what is within the slack of
    // where the dense partition stopped (T0 + 19 min): T0.
    expect(picked.filter((i) => i === 0)).toHaveLength(20);
    expect(picked.filter((i) => i === 1)).toHaveLength(1);
  });

  it('is held back by a partition without records in hand, within the slack', () => {
    const a = batch([T0, T0 + 30_000, T0 + 90_000, T0 + 3 * MIN]);
    expect(takeInEventTimeOrder([a], T0, MIN, 100)).toEqual([0, 0]);
    expect(takeInEventTimeOrder([a], Number.NEGATIVE_INFINITY, MIN, 100)).toEqual([]);
  });

  it('a batch already used up in hand holds the others back at the time it reached', () => {
    const usedUp = batch([T0, T0 + MIN], 2, T0 + MIN);
    const other = batch([T0 + MIN, T0 + 2 * MIN, T0 + 10 * MIN]);
    // The stage counts a used-up batch among the partitions without records (`heldBackAt`).
    expect(takeInEventTimeOrder([usedUp, other], T0 + MIN, MIN, 100)).toEqual([1, 1]);
  });

  it('never holds back records whose time cannot be read, nor a stage without alignment', () => {
    const unreadable = batch([Number.NaN, Number.NaN]);
    expect(takeInEventTimeOrder([unreadable], Number.NEGATIVE_INFINITY, MIN, 100)).toEqual([0, 0]);
    const a = batch([Number.NaN, Number.NaN]);
    const b = batch([Number.NaN]);
    expect(takeInEventTimeOrder([a, b], Number.NEGATIVE_INFINITY, undefined, 100)).toEqual([0, 0, 1]);
  });

  it('takes at most the number asked for', () => {
    const a = batch(Array.from({ length: 10 }, (_, i) => T0 + i));
    expect(takeInEventTimeOrder([a], none, MIN, 4)).toEqual([0, 0, 0, 0]);
  });
});

describe('idle windowing partitions', () => {
  it('does not move a partition that is merely slow: it has records still to come', () => {
    const now = 1_000_000;
    const advances = idleAdvances(
      [
        { partition: 0, streamTime: T0, lastRecordAt: now - 60_000, lagging: true },
        { partition: 1, streamTime: T0 + 2 * HOUR, lastRecordAt: now - 1_000 },
        { partition: 2, streamTime: T0 + HOUR, lastRecordAt: now - 60_000 },
      ],
      now,
      30_000,
    );
    // Partition 0 is not idle; being the slowest active one, it bounds how far 2 moves: nowhere.
    expect([...advances]).toEqual([]);
  });

  it('still moves a silent partition that is caught up', () => {
    const now = 1_000_000;
    const advances = idleAdvances(
      [
        { partition: 0, streamTime: T0, lastRecordAt: now - 60_000, lagging: false },
        { partition: 1, streamTime: T0 + 2 * HOUR, lastRecordAt: now - 1_000, lagging: true },
      ],
      now,
      30_000,
    );
    expect([...advances]).toEqual([[0, T0 + 2 * HOUR]]);
  });
});

describe('what a partition without records in hand holds the others to', () => {
  const position = (fields: Partial<PartitionPosition>): PartitionPosition => ({
    time: Number.NEGATIVE_INFINITY,
    headTime: Number.NaN,
    seen: true,
    caughtUp: false,
    ...fields,
  });

  it('holds at its next record once a batch of it was seen, even if none of it was processed', () => {
    expect(heldBackAt(position({ headTime: T0 + HOUR }), true)).toBe(T0 + HOUR);
    expect(heldBackAt(position({ time: T0, headTime: T0 + HOUR }), true)).toBe(T0 + HOUR);
    // Its batch used up: only where it got to is known.
    expect(heldBackAt(position({ time: T0 }), true)).toBe(T0);
  });

  it('does not count once caught up, nor once unseen for too long; unseen before that, it holds everything', () => {
    expect(heldBackAt(position({ caughtUp: true, time: T0 }), true)).toBeNull();
    expect(heldBackAt(position({ seen: false }), true)).toBe(Number.NEGATIVE_INFINITY);
    expect(heldBackAt(position({ seen: false }), false)).toBeNull();
  });

  it('lets partitions whose batches never come in together make progress, one visit at a time', () => {
    // A re-run on copied topics: one large batch per fetch, each partition in hand alone. Each
    // visit takes what its partition may, given where the others' next records are.
    const times = [
      [T0, T0 + 10 * MIN, T0 + 20 * MIN, T0 + 30 * MIN],
      [T0 + 5 * MIN, T0 + 15 * MIN, T0 + 25 * MIN, T0 + 35 * MIN],
    ];
    const next = [0, 0];
    const positions = [position({}), position({})];
    for (let visit = 0; visit < 20 && next.some((n, i) => n < times[i]!.length); visit++) {
      const p = visit % 2;
      const other = positions[1 - p]!;
      const limit = heldBackAt(other, true) ?? Number.POSITIVE_INFINITY;
      const picked = takeInEventTimeOrder([batch(times[p]!, next[p], positions[p]!.time)], limit, MIN, 100);
      next[p]! += picked.length;
      if (picked.length > 0) positions[p]!.time = times[p]![next[p]! - 1]!;
      positions[p]!.headTime = next[p]! < times[p]!.length ? times[p]![next[p]!]! : Number.NaN;
      positions[p]!.caughtUp = next[p] === times[p]!.length;
    }
    expect(next).toEqual([4, 4]);
    // At −∞ for a partition seen but never processed (before), the first visit took nothing and
    // neither partition ever moved.
    const stuck = takeInEventTimeOrder([batch(times[0]!)], Number.NEGATIVE_INFINITY, MIN, 100);
    expect(stuck).toEqual([]);
  });
});
