/**
 * Rebuilds the Elasticsearch indices from Kafka: deletes every index of the chosen families,
 * re-applies the templates, rewinds the indexer's consumer group to the earliest offsets and runs
 * the indexer until it has caught up with the end offsets taken at the start. The group must have
 * no live members (stop the running indexers first), otherwise they would keep their partitions.
 *
 * Topics written in Kafka transactions (trend windows, alerts) end with a commit marker: the
 * indexer's consumer runner commits past it, so the end offsets are reached. When the committed
 * offsets do not move for `noProgressTimeoutMs`, reindex fails with the partitions behind.
 *
 * Records the live indexer already sent to the dead-letter topic are not sent there again: each
 * rebuild would otherwise add a copy of every bad record, and a re-drive would replay them all.
 *
 * `signal` interrupts it (the CLI aborts it on SIGINT/SIGTERM): it stops consuming, abandons the
 * bulk request in flight (uncommitted: the indices are partial anyway, and a new reindex deletes
 * them and re-reads everything, so waiting for it would only delay the stop), leaves the group at
 * once and rejects with `ReindexInterrupted`.
 */

import type { Client } from '@elastic/elasticsearch';
import type { Admin, Kafka } from 'kafkajs';
import { topicName } from '../../shared/contracts/topics.ts';
import { type FamilyId, indexPattern } from '../../shared/elasticsearch/indices.ts';
import { followTopics } from '../../shared/kafka/topic-follower.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import { type IndexerConfig, indexerGroupId } from './config.ts';
import type { IndexedTopic } from './indexed-topics.ts';
import { applyElasticsearch, startIndexer } from './service.ts';

/** Which index family each topic feeds (uploads → posts, catalogue-embeddings → catalogue). */
export const FAMILY_OF_TOPIC: Record<IndexedTopic, FamilyId> = {
  uploads: 'posts',
  mentions: 'mentions',
  'trend-windows': 'trend-windows',
  'reorder-alerts': 'reorder-alerts',
  'alert-actions': 'alert-actions',
  'catalogue-embeddings': 'catalogue',
};

export interface ReindexReport {
  deletedIndices: string[];
  topics: string[];
  /** Records the group had to read: end offset minus earliest offset, summed over partitions. */
  records: number;
  seconds: number;
}

export interface ReindexDeps {
  kafka: Kafka;
  elasticsearch: Client;
  logger: Logger;
  onProgress?: (done: number, total: number) => void;
  pollMs?: number;
  /** Gives up with an error when the group's committed offsets do not move for this long (5 min). */
  noProgressTimeoutMs?: number;
  /** Aborting it stops the reindex cleanly; it then rejects with `ReindexInterrupted`. */
  signal?: AbortSignal;
}

/**
 * How the CLI's Kafka client id ends (`${KAFKA_CLIENT_ID}-reindex`), so that a group member left
 * by a reindex can be told from a running indexer.
 */
export const REINDEX_CLIENT_ID_SUFFIX = '-reindex';
/**
 * How long a member that did not leave (a killed process) stays listed: the session timeout of
 * the indexer's consumer (shared/kafka/consumer-runner.ts) and of kafkajs' default.
 */
export const SESSION_TIMEOUT_SECONDS = 30;

/** A reindex stopped by its `signal` (SIGINT/SIGTERM in the CLI), after a clean stop. */
export class ReindexInterrupted extends Error {
  constructor(
    /** The abort reason: the signal's name in the CLI. */
    readonly reason: string,
    /** Whether any index had been deleted yet: from then on the indices are partial. */
    readonly indicesTouched: boolean,
    readonly groupId: string,
  ) {
    super(
      indicesTouched
        ? `reindex interrupted (${reason}): the indices are partial; run reindex again to rebuild them`
        : `reindex interrupted (${reason}) before any index was deleted: nothing changed`,
    );
    this.name = 'ReindexInterrupted';
  }
}

/**
 * Why reindex refuses a group with live members, telling a reindex's own member (by its client id)
 * from a running indexer: a reindex killed without a clean stop stays a member until its session
 * times out.
 */
export function liveMembersRefusal(
  groupId: string,
  members: ReadonlyArray<{ clientId: string; clientHost: string }>,
): string {
  const reindexes = members.filter((m) => m.clientId.endsWith(REINDEX_CLIENT_ID_SUFFIX));
  const who = (list: typeof members) =>
    [...new Set(list.map((m) => `${m.clientId} on ${m.clientHost.replace(/^\//, '')}`))].join(', ');
  if (reindexes.length === members.length)
    return (
      `consumer group ${groupId} has ${members.length} live member(s) from a reindex (${who(reindexes)}): ` +
      'another reindex is running, or one that was killed without stopping (SIGKILL, a crash) is still listed ' +
      `until its session times out (up to ${SESSION_TIMEOUT_SECONDS} s). If no reindex runs, retry in ${SESSION_TIMEOUT_SECONDS} s.`
    );
  return (
    `consumer group ${groupId} has ${members.length} live member(s) (${who(members)}): stop the running indexers ` +
    'before reindexing. A process that was just killed without stopping (an indexer or a reindex) stays listed ' +
    `until its session times out (up to ${SESSION_TIMEOUT_SECONDS} s): if none runs, retry shortly.`
  );
}

interface Target {
  topic: string;
  partition: number;
  low: number;
  high: number;
}

const targetKey = (t: { topic: string; partition: number }) => `${t.topic}/${t.partition}`;

export async function reindex(config: IndexerConfig, deps: ReindexDeps): Promise<ReindexReport> {
  const started = Date.now();
  const groupId = indexerGroupId(config);
  const topics = config.INDEXER_TOPICS.map((id) => topicName(id, config.TOPIC_NAMESPACE));
  const families = [...new Set(config.INDEXER_TOPICS.map((id) => FAMILY_OF_TOPIC[id]))];
  let indicesTouched = false;
  const interrupted = () =>
    new ReindexInterrupted(String(deps.signal?.reason ?? 'aborted'), indicesTouched, groupId);
  /** Stops between steps; a step in progress (a delete, the rewind) is finished first. */
  const checkpoint = () => {
    if (deps.signal?.aborted) throw interrupted();
  };
  /** Rejects when the signal is aborted: raced against the long waits. */
  const aborted = new Promise<never>((_, reject) => {
    deps.signal?.addEventListener('abort', () => reject(interrupted()), { once: true });
  });
  aborted.catch(() => {});
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    const described = await admin.describeGroups([groupId]);
    const group = described.groups[0];
    if (group && group.members.length > 0) throw new Error(liveMembersRefusal(groupId, group.members));
    checkpoint();

    const targets: Target[] = [];
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic))
        targets.push({ topic, partition: p.partition, low: Number(p.low), high: Number(p.high) });
    }
    const total = targets.reduce((sum, t) => sum + (t.high - t.low), 0);
    checkpoint();

    const deletedIndices: string[] = [];
    for (const id of families) {
      const existing = await deps.elasticsearch.indices.get({
        index: indexPattern(config.ES_INDEX_PREFIX, id),
        allow_no_indices: true,
        ignore_unavailable: true,
        filter_path: '*.settings.index.provided_name',
      });
      for (const index of Object.keys(existing ?? {}).sort()) {
        checkpoint();
        indicesTouched = true;
        await deps.elasticsearch.indices.delete({ index });
        deletedIndices.push(index);
      }
    }
    deps.logger.info({ deletedIndices }, 'reindex: indices deleted');
    // From here on the indices are not what they were, even with none to delete.
    indicesTouched = true;
    checkpoint();
    await applyElasticsearch(config, { client: deps.elasticsearch, families });
    checkpoint();

    await rewindGroup(deps.kafka, groupId, topics, targets);
    checkpoint();

    const deadLettered = await deadLetteredByIndexer(deps.kafka, config, topics, aborted);
    checkpoint();
    // A consumer that crashes for good would otherwise leave the wait below waiting forever.
    let crashed!: (error: Error) => void;
    const crash = new Promise<never>((_, reject) => {
      crashed = reject;
    });
    crash.catch(() => {});
    const indexer = await startIndexer(
      { ...config, ES_RETENTION_JOB: 'off' },
      {
        kafka: deps.kafka,
        elasticsearch: deps.elasticsearch,
        logger: deps.logger,
        alreadyDeadLettered: (record) =>
          deadLettered.has(sourceKey(record.topic, record.partition, record.offset)),
        onFatal: (error) =>
          crashed(
            new Error(`reindex stopped: the indexer's consumer crashed (${error.message})`, { cause: error }),
          ),
      },
    );
    try {
      checkpoint();
      await Promise.race([waitUntilCaughtUp(deps, groupId, topics, targets, total, admin), crash, aborted]);
    } finally {
      // Stops consuming, aborts a bulk request in flight (its chunk stays uncommitted) and leaves
      // the group, so that a reindex run right after is not refused for a live member.
      await indexer.stop();
    }
    await deps.elasticsearch.indices.refresh({
      index: families.map((f) => indexPattern(config.ES_INDEX_PREFIX, f)).join(','),
    });
    return { deletedIndices, topics, records: total, seconds: (Date.now() - started) / 1000 };
  } finally {
    await admin.disconnect();
  }
}

const sourceKey = (topic: string, partition: number | string, offset: string) =>
  `${topic}/${partition}/${offset}`;

/** Where the records the indexer dead-lettered came from (topic/partition/offset), for `topics`. */
async function deadLetteredByIndexer(
  kafka: Kafka,
  config: IndexerConfig,
  topics: string[],
  aborted: Promise<never>,
): Promise<Set<string>> {
  const wanted = new Set(topics);
  const found = new Set<string>();
  const header = (value: Buffer | string | (Buffer | string)[] | undefined) =>
    value === undefined ? undefined : String(Array.isArray(value) ? value[0] : value);
  const reader = await followTopics(
    kafka,
    [topicName('dead-letters', config.TOPIC_NAMESPACE)],
    'reindex-dead-letters',
    (_topic, message) => {
      const h = message.headers ?? {};
      const topic = header(h['dlq.original.topic']);
      const partition = header(h['dlq.original.partition']);
      const offset = header(h['dlq.original.offset']);
      if (header(h['dlq.service']) !== 'indexer' || !topic || !wanted.has(topic) || !partition || !offset)
        return;
      found.add(sourceKey(topic, partition, offset));
    },
  );
  try {
    await Promise.race([reader.caughtUp, aborted]);
  } finally {
    await reader.stop();
  }
  return found;
}

/**
 * Commits the earliest offset of every partition for the group, with one short-lived member for
 * all topics (kafkajs' admin.resetOffsets joins the group once per topic, seconds each).
 */
async function rewindGroup(
  kafka: Kafka,
  groupId: string,
  topics: string[],
  targets: Array<{ topic: string; partition: number; low: number }>,
): Promise<void> {
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topics, fromBeginning: true });
    // This member never processes a record: it pauses at once and only commits the rewind.
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
    await joined;
    consumer.pause(topics.map((topic) => ({ topic })));
    await consumer.commitOffsets(
      targets.map((t) => ({ topic: t.topic, partition: t.partition, offset: String(t.low) })),
    );
  } finally {
    await consumer.disconnect();
  }
}

/** Polls the group's committed offsets until every target partition has reached its end offset. */
async function waitUntilCaughtUp(
  deps: ReindexDeps,
  groupId: string,
  topics: string[],
  targets: Target[],
  total: number,
  admin: Admin,
): Promise<void> {
  const noProgressMs = deps.noProgressTimeoutMs ?? 300_000;
  let lastDone = -1;
  let movedAt = Date.now();
  for (;;) {
    // Interrupted: the caller has stopped waiting (and disconnects the admin).
    if (deps.signal?.aborted) return;
    const committed = new Map<string, number>();
    for (const entry of await admin.fetchOffsets({ groupId, topics })) {
      for (const p of entry.partitions) committed.set(`${entry.topic}/${p.partition}`, Number(p.offset));
    }
    const position = (t: Target) => {
      const at = committed.get(targetKey(t)) ?? -1;
      return Math.min(t.high, at < 0 ? t.low : Math.max(at, t.low));
    };
    const done = targets.reduce((sum, t) => sum + position(t) - t.low, 0);
    deps.onProgress?.(done, total);
    if (done >= total) return;
    const now = Date.now();
    if (done > lastDone) {
      lastDone = done;
      movedAt = now;
    } else if (now - movedAt > noProgressMs) {
      const behind = targets
        .filter((t) => position(t) < t.high)
        .map((t) => `${targetKey(t)} at ${position(t)} of ${t.high}`)
        .join(', ');
      throw new Error(
        `reindex made no progress for ${Math.round(noProgressMs / 1000)} s (${done} of ${total} records; behind: ${behind}); ` +
          'check that Elasticsearch is reachable and the indexer log for errors',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, deps.pollMs ?? 500));
  }
}
