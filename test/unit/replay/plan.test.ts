import { describe, expect, it } from 'vitest';
import {
  confirmation,
  copyRefusal,
  inTimeWindow,
  newGroupRefusal,
  parseBound,
  planGroupReset,
  planRanges,
  RateLimiter,
  ReplayPlanError,
  rangeSize,
  resolveBound,
  resolveTopic,
  statefulGroupRefusal,
  targetPartition,
} from '../../../services/replay/plan.ts';

const marks = [
  { partition: 1, low: 0n, high: 50n },
  { partition: 0, low: 10n, high: 100n },
];
const t10 = Date.parse('2026-03-01T10:00:00Z');
const t11 = Date.parse('2026-03-01T11:00:00Z');

describe('positions', () => {
  it('reads earliest, latest, offsets and instants, and says what it cannot read', () => {
    expect(parseBound('earliest')).toEqual({ kind: 'earliest' });
    expect(parseBound(' latest ')).toEqual({ kind: 'latest' });
    expect(parseBound('1200')).toEqual({ kind: 'offset', offset: 1200n });
    expect(parseBound('2026-03-01T10:00:00Z')).toEqual({ kind: 'timestamp', ms: t10 });
    expect(parseBound('2026-03-01T11:00:00+01:00')).toEqual({ kind: 'timestamp', ms: t10 });
    for (const bad of ['yesterday', '-5', '2026-03-01', '2026-13-45T99:00:00Z', '1.5']) {
      expect(() => parseBound(bad), bad).toThrow(ReplayPlanError);
    }
  });

  it('clamps a position to what the partition still holds', () => {
    const p0 = marks[1]!;
    expect(resolveBound({ kind: 'earliest' }, p0)).toBe(10n);
    expect(resolveBound({ kind: 'latest' }, p0)).toBe(100n);
    expect(resolveBound({ kind: 'offset', offset: 5n }, p0)).toBe(10n);
    expect(resolveBound({ kind: 'offset', offset: 500n }, p0)).toBe(100n);
    expect(resolveBound({ kind: 'timestamp', ms: t10 }, p0, new Map([[0, 42n]]))).toBe(42n);
    expect(() => resolveBound({ kind: 'timestamp', ms: t10 }, p0, new Map())).toThrow(/partition 0/);
  });
});

describe('copy ranges', () => {
  it('plans [from, until) per partition in partition order', () => {
    const ranges = planRanges(marks, parseBound('20'), parseBound('60'));
    expect(ranges).toEqual([
      { partition: 0, start: 20n, end: 60n },
      { partition: 1, start: 20n, end: 50n },
    ]);
    expect(rangeSize(ranges)).toBe(70n);
  });

  it('uses the broker offsets for instants and never plans a negative range', () => {
    const from = new Map([
      [0, 30n],
      [1, 50n],
    ]);
    const until = new Map([
      [0, 70n],
      [1, 40n],
    ]);
    const ranges = planRanges(
      marks,
      { kind: 'timestamp', ms: t10 },
      { kind: 'timestamp', ms: t11 },
      from,
      until,
    );
    expect(ranges).toEqual([
      { partition: 0, start: 30n, end: 70n },
      { partition: 1, start: 50n, end: 50n },
    ]);
  });

  it('refuses an end before its start', () => {
    expect(() => planRanges(marks, parseBound('60'), parseBound('20'))).toThrow(/greater than --from/);
    expect(() =>
      planRanges(marks, { kind: 'timestamp', ms: t11 }, { kind: 'timestamp', ms: t10 }, new Map(), new Map()),
    ).toThrow(/must be after --from/);
  });

  it('filters by the exact time window when instants are given', () => {
    const from = { kind: 'timestamp', ms: t10 } as const;
    const until = { kind: 'timestamp', ms: t11 } as const;
    expect(inTimeWindow(t10, from, until)).toBe(true);
    expect(inTimeWindow(t11 - 1, from, until)).toBe(true);
    expect(inTimeWindow(t11, from, until)).toBe(false);
    expect(inTimeWindow(t10 - 1, from, until)).toBe(false);
    expect(inTimeWindow(0, { kind: 'earliest' }, { kind: 'offset', offset: 3n })).toBe(true);
  });
});

describe('safety', () => {
  const existing = new Set(['prod.uploads.v1', 'staging.uploads.v1']);
  const facts = { existingTopics: existing, sourcePartitions: 6, targetPartitions: 6 };

  it('refuses to write into the source topic or a missing one', () => {
    expect(copyRefusal({ ...facts, source: 'prod.uploads.v1', target: 'prod.uploads.v1' })).toMatch(
      /into itself/,
    );
    expect(
      copyRefusal({ ...facts, source: 'prod.uploads.v1', target: 'nope', targetPartitions: undefined }),
    ).toMatch(/target topic nope does not exist/);
    expect(copyRefusal({ ...facts, source: 'gone', target: 'staging.uploads.v1' })).toMatch(
      /source topic gone/,
    );
    // A missing source is named as missing, not as "copied into itself".
    expect(copyRefusal({ ...facts, source: 'nosuch', target: 'nosuch' })).toBe(
      'source topic nosuch does not exist',
    );
    expect(
      copyRefusal({ ...facts, source: 'prod.uploads.v1', target: 'staging.uploads.v1' }),
    ).toBeUndefined();
  });

  it('keeps partitions when the counts match, lets the key decide otherwise', () => {
    expect(targetPartition(4, 6, 6)).toBe(4);
    expect(targetPartition(4, 6, 3)).toBeUndefined();
  });

  it('plans a group reset with what each partition re-reads, refusing while consumers run', () => {
    const committed = new Map([
      [0, 90n],
      [1, 45n],
    ]);
    const base = { group: 'trendradar.notifier', topic: 't', committed };
    const plan = planGroupReset({ ...base, state: 'Empty', members: 0 }, marks, {
      kind: 'offset',
      offset: 40n,
    });
    expect(plan.partitions).toEqual([
      { partition: 0, current: 90n, target: 40n, delta: 50n },
      { partition: 1, current: 45n, target: 40n, delta: 5n },
    ]);
    expect(plan.live).toBe(true);
    expect(plan.refusal).toBeUndefined();
    const running = planGroupReset({ ...base, state: 'Stable', members: 2 }, marks, { kind: 'earliest' });
    expect(running.refusal).toMatch(/2 running member\(s\).*stop the service first/);
    const unused = planGroupReset({ ...base, committed: new Map(), state: 'Dead', members: 0 }, marks, {
      kind: 'earliest',
    });
    expect(unused.live).toBe(false);
    expect(unused.partitions[0]!.delta).toBeUndefined();
  });

  it('asks before resetting a group in use, and refuses without a terminal unless --yes', () => {
    expect(confirmation(true, { yes: false, interactive: true })).toBe('ask');
    expect(confirmation(true, { yes: false, interactive: false })).toBe('refuse');
    expect(confirmation(true, { yes: true, interactive: false })).toBe('proceed');
    expect(confirmation(false, { yes: false, interactive: false })).toBe('proceed');
  });
});

describe('rate limit', () => {
  it('lets a second worth through, then spaces records out', () => {
    const limiter = new RateLimiter(100, 0);
    expect(limiter.take(100, 0)).toBe(0);
    expect(limiter.take(50, 0)).toBe(500);
    // After waiting the 500 ms it asked for, the bucket is empty again, not in debt.
    expect(limiter.take(0, 500)).toBe(0);
    expect(limiter.take(100, 1500)).toBe(0);
    expect(() => new RateLimiter(0, 0)).toThrow(/positive/);
  });
});

describe('topic names on the command line', () => {
  const contracts = [
    { id: 'uploads', version: 1 },
    { id: 'reorder-alerts', version: 2 },
  ];

  it('reads a contract id in the configured namespace', () => {
    expect(resolveTopic('uploads', 'prod', contracts)).toEqual({
      name: 'prod.uploads.v1',
      id: 'uploads',
      namespace: 'prod',
    });
  });

  it('reads a full broker name as its contract id and namespace', () => {
    expect(resolveTopic('trendradar.uploads.v1', 'prod', contracts)).toEqual({
      name: 'trendradar.uploads.v1',
      id: 'uploads',
      namespace: 'trendradar',
    });
    expect(resolveTopic('staging.reorder-alerts.v2', 'prod', contracts).id).toBe('reorder-alerts');
  });

  it('refuses an unknown name, listing the valid ids', () => {
    expect(() => resolveTopic('nosuch', 'prod', contracts)).toThrow(ReplayPlanError);
    expect(() => resolveTopic('nosuch', 'prod', contracts)).toThrow(
      /unknown topic "nosuch": give a contract id \(uploads, reorder-alerts\) or a full name <namespace>\.<id>\.v<version>, e\.g\. prod\.uploads\.v1/,
    );
    expect(() => resolveTopic('prod.nosuch.v1', 'prod', contracts)).toThrow(/unknown topic/);
    expect(() => resolveTopic('Prod.uploads.v1', 'prod', contracts)).toThrow(/unknown topic/);
  });

  it('names the contract version when a full name has another', () => {
    expect(() => resolveTopic('prod.uploads.v2', 'prod', contracts)).toThrow(
      'unknown topic "prod.uploads.v2": the contract of uploads is version 1 (prod.uploads.v1)',
    );
  });
});

describe('resetting a group that never ran', () => {
  const use = { group: 'trendradar.embeder', members: 0, committedTopics: [], knownGroups: [] };

  it('refuses a group with no committed offsets and no members unless --create', () => {
    const known = ['other.x', 'replay-20260301T120000000Z-abc', 'trendradar.notifier', 'trendradar.embedder'];
    const refusal = newGroupRefusal({ ...use, knownGroups: known }, false);
    // Groups of the same namespace first, replay runs left out.
    expect(refusal).toBe(
      'group trendradar.embeder has no committed offsets and no members — a typo? ' +
        '(known groups: trendradar.embedder, trendradar.notifier, other.x).\n' +
        'To give a new group its starting position, re-run with --create.',
    );
    expect(newGroupRefusal(use, false)).toMatch(/the cluster knows no consumer groups/);
    expect(newGroupRefusal(use, true)).toBeUndefined();
  });

  it('lets a group through that committed on another topic or has members', () => {
    expect(newGroupRefusal({ ...use, committedTopics: ['trendradar.mentions.v1'] }, false)).toBeUndefined();
    expect(newGroupRefusal({ ...use, members: 1 }, false)).toBeUndefined();
  });
});

describe("resetting an aggregator stage's group", () => {
  it('refuses the exactly-once stages, whose changelog state already holds the records', () => {
    // The audited case: a rewind of trendradar.aggregator.trends counted 10 signals as 20.
    const refusal = statefulGroupRefusal('trendradar.aggregator.trends');
    expect(refusal).toMatch(/^refusing to reset trendradar\.aggregator\.trends: .*aggregator's trends stage/);
    expect(refusal).toMatch(/aggregator-trend-changelog in namespace trendradar/);
    expect(refusal).toMatch(/count every re-read record twice/);
    expect(refusal).toMatch(
      /replay copy --topic <id> --to-namespace <fresh> --from <position> {3}for mentions and interactions/,
    );
    expect(refusal).toMatch(/TOPIC_NAMESPACE=<fresh> trend-radar aggregator run/);
    expect(statefulGroupRefusal('staging.agg-blue.attribution')).toMatch(
      /attribution stage.*aggregator-attribution-changelog in namespace staging/s,
    );
  });

  it('lets every other group through', () => {
    for (const group of [
      'trendradar.embedder',
      'trendradar.indexer',
      'trendradar.notifier',
      'trends',
      'x.trendsy',
    ])
      expect(statefulGroupRefusal(group)).toBeUndefined();
  });
});
