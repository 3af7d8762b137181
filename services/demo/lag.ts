/** How far behind consumer groups are: the demo waits for the pipeline to drain before its summary. */
import type { Kafka } from 'kafkajs';

export interface GroupTopics {
  groupId: string;
  topics: string[];
}

/** Records not yet committed by `groupId` across `topics` (a group that never committed lags by all). */
export async function groupLag(kafka: Kafka, { groupId, topics }: GroupTopics): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let lag = 0;
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const end of ends) {
        const at = Number(mine.find((p) => p.partition === end.partition)?.offset ?? '-1');
        const start = Number(end.low);
        lag += Math.max(0, Number(end.high) - Math.max(at, start));
      }
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until every group has consumed everything: the total lag stays at or under `tolerance` for
 * three polls in a row. The tolerance is for topics written in transactions: a consumer commits
 * past a partition's final commit marker only once a fetch has brought that marker.
 */
export async function waitForDrain(
  kafka: Kafka,
  groups: GroupTopics[],
  options: { timeoutMs: number; tolerance?: number; onPoll?: (lag: number) => void },
): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  let quiet = 0;
  while (Date.now() < deadline) {
    let total = 0;
    for (const group of groups) total += await groupLag(kafka, group);
    options.onPoll?.(total);
    quiet = total <= (options.tolerance ?? 0) ? quiet + 1 : 0;
    if (quiet >= 3) return true;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return false;
}
