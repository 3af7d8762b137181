/**
 * Idle partitions, pure. Stream time moves only with records, so a partition that receives
 * nothing keeps its windows open forever while its neighbours move on. After `idleMs` of wall
 * clock without records, an idle partition's stream time follows the slowest active partition:
 * never past data any active partition has not reached, so nothing that is still in flight
 * elsewhere becomes late. This is the only place where wall-clock time matters.
 */
export interface PartitionClock {
  partition: number;
  /** Largest event time seen (or pushed); -Infinity before any record. */
  streamTime: number;
  /** Wall-clock ms of the last record received. */
  lastRecordAt: number;
}

/** The partitions to move forward, with their new stream time. */
export function idleAdvances(clocks: PartitionClock[], now: number, idleMs: number): Map<number, number> {
  const idle = clocks.filter((c) => now - c.lastRecordAt >= idleMs);
  const active = clocks.filter((c) => now - c.lastRecordAt < idleMs && Number.isFinite(c.streamTime));
  const advances = new Map<number, number>();
  if (active.length === 0) return advances;
  const slowestActive = Math.min(...active.map((c) => c.streamTime));
  for (const clock of idle)
    if (slowestActive > clock.streamTime) advances.set(clock.partition, slowestActive);
  return advances;
}
