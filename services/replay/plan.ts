/**
 * The decisions of a replay, free of I/O: which offsets of which partitions to copy, where a
 * consumer group's offsets move to, and whether it is safe to go ahead. The broker lookups happen
 * in copy.ts / reset.ts; everything here is unit-tested.
 */

/** A position given on the command line: an instant, an offset, or either end of the log. */
export type Bound =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: bigint }
  | { kind: 'timestamp'; ms: number };

export class ReplayPlanError extends Error {
  override name = 'ReplayPlanError';
}

/** `earliest`, `latest`, a non-negative integer offset, or an ISO-8601 instant with an offset/Z. */
export function parseBound(text: string): Bound {
  const value = text.trim();
  if (value === 'earliest' || value === 'latest') return { kind: value };
  if (/^\d+$/.test(value)) return { kind: 'offset', offset: BigInt(value) };
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return { kind: 'timestamp', ms };
  }
  throw new ReplayPlanError(
    `cannot read "${text}" as a position: use earliest, latest, an offset (e.g. 1200) or an instant (e.g. 2026-03-01T10:00:00Z)`,
  );
}

export function describeBound(bound: Bound): string {
  switch (bound.kind) {
    case 'offset':
      return `offset ${bound.offset}`;
    case 'timestamp':
      return new Date(bound.ms).toISOString();
    default:
      return bound.kind;
  }
}

export interface PartitionWatermarks {
  partition: number;
  /** First offset still in the log. */
  low: bigint;
  /** Next offset to be written. */
  high: bigint;
}

export interface PartitionRange {
  partition: number;
  /** First offset to copy (inclusive). */
  start: bigint;
  /** Offset to stop before (exclusive). */
  end: bigint;
}

/**
 * The broker's answer for a timestamp: per partition, the first offset whose timestamp is at or
 * after it (the high watermark when there is none).
 */
export type OffsetsAtTime = ReadonlyMap<number, bigint>;

const clamp = (value: bigint, low: bigint, high: bigint) => (value < low ? low : value > high ? high : value);

/** Where `bound` falls in one partition, clamped to what the log still holds. */
export function resolveBound(bound: Bound, marks: PartitionWatermarks, atTime?: OffsetsAtTime): bigint {
  switch (bound.kind) {
    case 'earliest':
      return marks.low;
    case 'latest':
      return marks.high;
    case 'offset':
      return clamp(bound.offset, marks.low, marks.high);
    case 'timestamp': {
      const offset = atTime?.get(marks.partition);
      if (offset === undefined)
        throw new ReplayPlanError(`no offset for the timestamp in partition ${marks.partition}`);
      return clamp(offset, marks.low, marks.high);
    }
  }
}

/** The [start, end) range of every partition; `until` is exclusive, as in "records before 11:00". */
export function planRanges(
  partitions: readonly PartitionWatermarks[],
  from: Bound,
  until: Bound,
  fromAtTime?: OffsetsAtTime,
  untilAtTime?: OffsetsAtTime,
): PartitionRange[] {
  if (from.kind === 'timestamp' && until.kind === 'timestamp' && until.ms <= from.ms)
    throw new ReplayPlanError(
      `--until (${describeBound(until)}) must be after --from (${describeBound(from)})`,
    );
  if (from.kind === 'offset' && until.kind === 'offset' && until.offset <= from.offset)
    throw new ReplayPlanError(
      `--until offset ${until.offset} must be greater than --from offset ${from.offset}`,
    );
  return [...partitions]
    .sort((a, b) => a.partition - b.partition)
    .map((marks) => {
      const start = resolveBound(from, marks, fromAtTime);
      const end = resolveBound(until, marks, untilAtTime);
      // biome-ignore lint/complexity/useMathMinMax: bigint offsets; Math.max takes numbers only.
      return { partition: marks.partition, start, end: end < start ? start : end };
    });
}

export const rangeSize = (ranges: readonly PartitionRange[]): bigint =>
  ranges.reduce((sum, r) => sum + (r.end - r.start), 0n);

/**
 * With time bounds, offsets only narrow the search: CreateTime timestamps need not grow with the
 * offset, so each record is also checked against the interval itself.
 */
export function inTimeWindow(timestampMs: number, from: Bound, until: Bound): boolean {
  if (from.kind === 'timestamp' && timestampMs < from.ms) return false;
  if (until.kind === 'timestamp' && timestampMs >= until.ms) return false;
  return true;
}

// ---------------------------------------------------------------- topic names

/** A contract topic as the broker names it: `${namespace}.${id}.v${version}`. */
export interface ResolvedTopic {
  name: string;
  id: string;
  namespace: string;
}

const FULL_TOPIC_NAME = /^([a-z0-9][a-z0-9_-]*)\.([a-z0-9][a-z0-9-]*)\.v(\d+)$/;

/**
 * Reads a topic given on the command line: a contract id (`uploads`, in `namespace`) or a full
 * broker name (`staging.uploads.v1`, whose namespace it names). Anything else is refused with the
 * valid ids, so a typo cannot reach the broker as the name of a topic that does not exist.
 */
export function resolveTopic(
  text: string,
  namespace: string,
  contracts: ReadonlyArray<{ id: string; version: number }>,
): ResolvedTopic {
  const value = text.trim();
  const byId = contracts.find((c) => c.id === value);
  if (byId) return { name: `${namespace}.${byId.id}.v${byId.version}`, id: byId.id, namespace };
  const match = FULL_TOPIC_NAME.exec(value);
  const spec = match && contracts.find((c) => c.id === match[2]);
  if (match && spec && spec.version === Number(match[3]))
    return { name: value, id: spec.id, namespace: match[1]! };
  if (match && spec)
    throw new ReplayPlanError(
      `unknown topic "${text}": the contract of ${spec.id} is version ${spec.version} (${match[1]}.${spec.id}.v${spec.version})`,
    );
  throw new ReplayPlanError(
    `unknown topic "${text}": give a contract id (${contracts.map((c) => c.id).join(', ')}) ` +
      'or a full name <namespace>.<id>.v<version>, e.g. ' +
      `${namespace}.${contracts[0]?.id ?? 'uploads'}.v${contracts[0]?.version ?? 1}`,
  );
}

export interface CopyTargetFacts {
  source: string;
  target: string;
  existingTopics: ReadonlySet<string>;
  sourcePartitions: number;
  targetPartitions: number | undefined;
}

/** Why a copy must not run, or undefined when it may. */
export function copyRefusal(facts: CopyTargetFacts): string | undefined {
  // A missing source first: "into itself" about a topic that is not there misleads.
  if (!facts.existingTopics.has(facts.source)) return `source topic ${facts.source} does not exist`;
  if (facts.source === facts.target)
    return `refusing to copy ${facts.source} into itself: every consumer would see each record twice`;
  if (!facts.existingTopics.has(facts.target) || facts.targetPartitions === undefined)
    return `target topic ${facts.target} does not exist: create it first (e.g. \`trend-radar topics apply\` with its namespace)`;
  return undefined;
}

/**
 * Records keep their partition when both topics have the same partition count (order and null-key
 * records stay where they were); otherwise the key decides, as it would for a fresh producer.
 */
export function targetPartition(
  sourcePartition: number,
  sourcePartitions: number,
  targetPartitions: number,
): number | undefined {
  return sourcePartitions === targetPartitions ? sourcePartition : undefined;
}

export const REPLAY_HEADERS = {
  id: 'replay.id',
  source: 'replay.source',
  at: 'replay.at',
} as const;

/** `${topic}/${partition}/${offset}`: where a replayed record came from. */
export const replaySource = (topic: string, partition: number, offset: string) =>
  `${topic}/${partition}/${offset}`;

// ---------------------------------------------------------------- consumer group reset

export interface GroupFacts {
  group: string;
  topic: string;
  /** Broker-side group state: Empty, Stable, PreparingRebalance, CompletingRebalance, Dead. */
  state: string;
  members: number;
  /** Committed offsets by partition; absent when the group never committed for the partition. */
  committed: ReadonlyMap<number, bigint>;
}

export interface PartitionReset {
  partition: number;
  current: bigint | undefined;
  target: bigint;
  /** Records the group will read again (positive) or skip (negative) after the reset. */
  delta: bigint | undefined;
}

export interface ResetPlan {
  group: string;
  topic: string;
  partitions: PartitionReset[];
  /** The group is in use (it has committed offsets): moving them changes what a service does. */
  live: boolean;
  /** Set when the reset cannot go ahead at all. */
  refusal?: string;
}

export function planGroupReset(
  facts: GroupFacts,
  partitions: readonly PartitionWatermarks[],
  to: Bound,
  atTime?: OffsetsAtTime,
): ResetPlan {
  const resets = [...partitions]
    .sort((a, b) => a.partition - b.partition)
    .map((marks) => {
      const target = resolveBound(to, marks, atTime);
      const current = facts.committed.get(marks.partition);
      return {
        partition: marks.partition,
        current,
        target,
        delta: current === undefined ? undefined : current - target,
      };
    });
  const plan: ResetPlan = {
    group: facts.group,
    topic: facts.topic,
    partitions: resets,
    live: facts.committed.size > 0,
  };
  if (facts.members > 0 || (facts.state !== 'Empty' && facts.state !== 'Dead')) {
    plan.refusal =
      `group ${facts.group} has ${facts.members} running member(s) (state ${facts.state}): stop the service first — ` +
      'Kafka only moves the offsets of a group with no running consumers';
  }
  return plan;
}

/**
 * The consumer groups of the aggregator's exactly-once stages (services/aggregator/service.ts):
 * `${TOPIC_NAMESPACE}.${AGGREGATOR_GROUP_ID}.attribution` and `….trends`. Each stage keeps its
 * state in a changelog topic and restores it at start, so that state already holds every record
 * before the committed offsets.
 */
export const STATEFUL_STAGES = [
  {
    stage: 'attribution',
    changelog: 'aggregator-attribution-changelog',
    holds: 'posts, pending interactions and the ids of the interactions it has seen',
  },
  {
    stage: 'trends',
    changelog: 'aggregator-trend-changelog',
    holds: 'the signals counted in every open window',
  },
] as const;

/** `<namespace>.<AGGREGATOR_GROUP_ID>.<stage>`; the namespace has no dots (TOPIC_NAMESPACE). */
const STATEFUL_GROUP = /^([a-z0-9][a-z0-9_-]*)\.(.+)\.(attribution|trends)$/;

/**
 * Why a group must not be reset on its own: it is an aggregator stage's group, whose state
 * (restored from its changelog) already holds the records a rewind would hand it again — every
 * re-read signal would be counted twice. Kafka Streams' reset tool resets offsets and state
 * together; there is no such tool here, so the answer is a replay into a fresh namespace.
 */
export function statefulGroupRefusal(group: string): string | undefined {
  const match = STATEFUL_GROUP.exec(group.trim());
  if (!match) return undefined;
  const namespace = match[1]!;
  const stage = STATEFUL_STAGES.find((s) => s.stage === match[3])!;
  return (
    `refusing to reset ${group}: it is the consumer group of the aggregator's ${stage.stage} stage, ` +
    `whose state (${stage.holds}) lives in its changelog topic (${stage.changelog} in namespace ${namespace}) ` +
    'and is restored at start. That state already holds the records before the committed offsets: ' +
    'rewinding the offsets alone would count every re-read record twice (and moving them forward ' +
    'would leave state and offsets out of step). Offsets and state would have to be reset together, ' +
    'which this tool cannot do.\n' +
    'To reprocess, replay the inputs into a fresh namespace and run the aggregator there:\n' +
    '  TOPIC_NAMESPACE=<fresh> trend-radar topics apply\n' +
    '  trend-radar replay copy --topic <id> --to-namespace <fresh> --from earliest   for catalogue-embeddings and inventory\n' +
    '  trend-radar replay copy --topic <id> --to-namespace <fresh> --from <position>   for mentions and interactions\n' +
    '  TOPIC_NAMESPACE=<fresh> trend-radar aggregator run\n' +
    'See docs/replay.md ("Aggregator groups: not reset").'
  );
}

export interface GroupUse {
  group: string;
  members: number;
  /** Topics on which the group has committed offsets, any topic. */
  committedTopics: readonly string[];
  /** Every consumer group the cluster knows, for suggestions. */
  knownGroups: readonly string[];
}

/**
 * A group with no members and no committed offsets on any topic has never run: most likely a
 * typo, and "resetting" it would create a group no service uses while the real one is untouched.
 * Refused unless the engineer says the group is new (`--create`).
 */
export function newGroupRefusal(use: GroupUse, create: boolean): string | undefined {
  if (create || use.members > 0 || use.committedTopics.length > 0) return undefined;
  // Groups of the same namespace (the part before the first dot) first: the likeliest meant.
  const prefix = use.group.split('.')[0];
  const rank = (g: string) => (g.split('.')[0] === prefix ? 0 : 1);
  const candidates = use.knownGroups
    .filter((g) => !g.startsWith('replay-'))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const known =
    candidates.length === 0
      ? 'the cluster knows no consumer groups'
      : `known groups: ${candidates.slice(0, 8).join(', ')}${candidates.length > 8 ? ', …' : ''}`;
  return (
    `group ${use.group} has no committed offsets and no members — a typo? (${known}).\n` +
    'To give a new group its starting position, re-run with --create.'
  );
}

export type Go = 'proceed' | 'ask' | 'refuse';

/** Resetting a group in use needs a yes: from `--yes`, or from a person at a terminal. */
export function confirmation(
  needsConfirmation: boolean,
  options: { yes: boolean; interactive: boolean },
): Go {
  if (!needsConfirmation || options.yes) return 'proceed';
  return options.interactive ? 'ask' : 'refuse';
}

// ---------------------------------------------------------------- rate limit

/** Token bucket: at most `perSecond` records a second on average, bursts up to one second's worth. */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    now: number,
  ) {
    if (!(perSecond > 0))
      throw new ReplayPlanError('the rate limit must be a positive number of records per second');
    this.tokens = perSecond;
    this.last = now;
  }

  /** Takes `count` tokens; returns how long to wait (ms) before sending them. */
  take(count: number, now: number): number {
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    this.tokens -= count;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.perSecond) * 1000);
  }
}
