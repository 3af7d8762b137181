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
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    const described = await admin.describeGroups([groupId]);
    const group = described.groups[0];
    if (group && group.members.length > 0)
      throw new Error(
        `consumer group ${groupId} has ${group.members.length} live member(s): stop the running indexers before reindexing`,
      );

    const targets: Target[] = [];
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic))
        targets.push({ topic, partition: p.partition, low: Number(p.low), high: Number(p.high) });
    }
    const total = targets.reduce((sum, t) => sum + (t.high - t.low), 0);

    const deletedIndices: string[] = [];
    for (const id of families) {
      const existing = await deps.elasticsearch.indices.get({
        index: indexPattern(config.ES_INDEX_PREFIX, id),
        allow_no_indices: true,
        ignore_unavailable: true,
        filter_path: '*.settings.index.provided_name',
      });
      for (const index of Object.keys(existing ?? {}).sort()) {
        await deps.elasticsearch.indices.delete({ index });
        deletedIndices.push(index);
      }
    }
    deps.logger.info({ deletedIndices }, 'reindex: indices deleted');
    await applyElasticsearch(config, { client: deps.elasticsearch, families });

    await rewindGroup(deps.kafka, groupId, topics, targets);

    const deadLettered = await deadLetteredByIndexer(deps.kafka, config, topics);
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
      await Promise.race([waitUntilCaughtUp(deps, groupId, topics, targets, total, admin), crash]);
    } finally {
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
    await reader.caughtUp;
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
