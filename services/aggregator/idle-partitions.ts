/**
 * Idle partitions, pure. Stream time moves only with records, so a partition that receives
 * nothing keeps its windows open forever while its neighbours move on. After `idleMs` of wall
 * clock without records, an idle partition's stream time follows the slowest active partition:
 * never past data any active partition has not reached, so nothing that is still in flight
 * elsewhere becomes late. One of the two places where wall clock matters (the other: the
 * aggregator's refusal of signals too far in the future, AGGREGATOR_MAX_FUTURE_SKEW_MS).
 *
 * A partition that is merely slow is not idle: one known to have more records on the broker than
 * it has delivered (catching up on a backlog, its next batch not fetched yet) never moves,
 * however long it has been silent; moving it would make its own pending records late.
 */
export interface PartitionClock {
  partition: number;
  /** Largest event time seen (or pushed); -Infinity before any record. */
  streamTime: number;
  /** Wall-clock ms of the last record received. */
  lastRecordAt: number;
  /** Its last fetch ended before the partition's end: it has records still to come. */
  lagging?: boolean;
}

/** The partitions to move forward, with their new stream time. */
export function idleAdvances(clocks: PartitionClock[], now: number, idleMs: number): Map<number, number> {
  const isIdle = (c: PartitionClock) => !c.lagging && now - c.lastRecordAt >= idleMs;
  const idle = clocks.filter(isIdle);
  const active = clocks.filter((c) => !isIdle(c) && Number.isFinite(c.streamTime));
  const advances = new Map<number, number>();
  if (active.length === 0) return advances;
  const slowestActive = Math.min(...active.map((c) => c.streamTime));
  for (const clock of idle)
    if (slowestActive > clock.streamTime) advances.set(clock.partition, slowestActive);
  return advances;
}
