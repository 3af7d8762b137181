/** Real-Kafka plumbing shared by the aggregator's integration tests and benchmarks. */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import { CatalogueEmbedding, InventoryLevel, ReorderAlert } from '../../../shared/contracts/events.ts';
import { topicNames } from '../../../shared/contracts/topics.ts';
import { connectProducer } from '../../../shared/kafka/client.ts';
import { decode, encode } from '../../../shared/kafka/codec.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import type { DetectionFeed } from './scenario-feed.ts';

/** Creates the namespace's topics and writes the tables and the feed, in event-time order. */
export async function produceFeed(kafka: Kafka, namespace: string, feed: DetectionFeed): Promise<void> {
  await applyTopics(kafka, { namespace });
  const topics = topicNames(namespace);
  const producer = await connectProducer(kafka);
  try {
    await producer.send({
      topic: topics['catalogue-embeddings'],
      acks: -1,
      messages: feed.catalogue.map((c) => ({
        key: `${c.sku}|${c.modelId}`,
        value: encode(CatalogueEmbedding, c),
      })),
    });
    await producer.send({
      topic: topics.inventory,
      acks: -1,
      messages: feed.inventory.map((i) => ({ key: i.sku, value: encode(InventoryLevel, i) })),
    });
    const chunk = 2_000;
    for (let start = 0; start < feed.events.length; start += chunk) {
      const byTopic = new Map<string, Message[]>();
      for (const event of feed.events.slice(start, start + chunk)) {
        const topic = topics[event.topic];
        const list = byTopic.get(topic) ?? [];
        // A test may give an event headers (bad-records.test.ts: a record of another contract).
        const { headers } = event as { headers?: Record<string, string> };
        list.push({ key: event.key, value: JSON.stringify(event.value), ...(headers ? { headers } : {}) });
        byTopic.set(topic, list);
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * Waits until both stages have committed everything there is: attribution up to the end of its
 * inputs, windowing up to the last commit marker of the repartition topic.
 */
export async function waitForDrain(
  kafka: Kafka,
  namespace: string,
  groupId: string,
  timeoutMs: number,
): Promise<boolean> {
  const topics = topicNames(namespace);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let stableRounds = 0;
    while (Date.now() < deadline) {
      const attributionDone = await caughtUp(
        admin,
        `${namespace}.${groupId}.attribution`,
        [topics.mentions, topics.interactions],
        0,
      );
      // The last record of a transactional partition is a commit marker nobody consumes.
      const trendsDone =
        attributionDone &&
        (await caughtUp(admin, `${namespace}.${groupId}.trends`, [topics['signals-by-sku']], 1));
      stableRounds = trendsDone ? stableRounds + 1 : 0;
      if (stableRounds >= 2) return true;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    return false;
  } finally {
    await admin.disconnect();
  }
}

async function caughtUp(
  admin: ReturnType<Kafka['admin']>,
  groupId: string,
  topics: string[],
  markerSlack: number,
): Promise<boolean> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const group = committed.find((c) => c.topic === topic);
    for (const end of ends) {
      const high = BigInt(end.high);
      if (high === BigInt(end.low)) continue;
      const at = group?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      if (BigInt(at) < high - BigInt(markerSlack)) return false;
    }
  }
  return true;
}

/** Sum of the offsets a group has committed on some topics (progress, for the restart test). */
export async function committedRecords(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Every committed record of the alerts topic, read until it has been quiet for `quietMs`. */
export async function readAlerts(kafka: Kafka, topic: string, quietMs = 4_000): Promise<ReorderAlert[]> {
  return readCommitted(kafka, topic, (value) => decode(ReorderAlert, value), quietMs);
}

/** Every committed record of a topic (read_committed), read until it has been quiet for `quietMs`. */
export async function readCommitted<T>(
  kafka: Kafka,
  topic: string,
  read: (value: Buffer | null, message: KafkaMessage) => T,
  quietMs = 4_000,
): Promise<T[]> {
  const consumer = kafka.consumer({ groupId: `topic-reader-${randomUUID()}` });
  const records: T[] = [];
  let lastAt = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        records.push(read(message.value, message));
        lastAt = Date.now();
      },
    });
    const started = Date.now();
    // The group join alone takes a few seconds; then wait for quiet.
    while (Date.now() - started < 6_000 || Date.now() - lastAt < quietMs) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return records;
  } finally {
    await consumer.disconnect();
  }
}

export interface DetectionRun {
  alerts: ReorderAlert[];
  drained: boolean;
  /** Wall-clock ms from the aggregator's start until both stages had committed everything. */
  processingMs: number;
  signals: number;
  lateSignals: number;
  /** Window results the trends stage wrote (each closed window of each scope is one record). */
  windows: number;
  /** Re-delivered interactions the attribution stage dropped. */
  duplicateInteractions: number;
  /** Its /readyz once drained, and its consumers' `trendradar_consumer_up` series then. */
  readyWhenDrained: boolean;
  consumersUp: Record<string, number>;
  /** Its /readyz once stopped. */
  readyWhenStopped: boolean;
}

/** Writes the feed to a fresh namespace, runs the real aggregator on it, returns its alerts. */
export async function runDetection(
  kafka: Kafka,
  namespace: string,
  feed: DetectionFeed,
  settings: Record<string, string>,
  timeoutMs: number,
): Promise<DetectionRun> {
  await produceFeed(kafka, namespace, feed);
  return runAggregatorOn(kafka, namespace, settings, timeoutMs);
}

/** Runs the real aggregator on a namespace's input topics until it has drained them (or times out). */
export async function runAggregatorOn(
  kafka: Kafka,
  namespace: string,
  settings: Record<string, string>,
  timeoutMs: number,
): Promise<DetectionRun> {
  const { defaultAggregatorConfig } = await import('../../../services/aggregator/config.ts');
  const { startAggregator } = await import('../../../services/aggregator/service.ts');
  const { createLogger } = await import('../../../shared/observability/logger.ts');
  const config = defaultAggregatorConfig({ ...settings, TOPIC_NAMESPACE: namespace });
  const started = Date.now();
  const running = await startAggregator(
    { ...config, KAFKA_BROKERS: settings.KAFKA_BROKERS?.split(',') ?? config.KAFKA_BROKERS },
    { logger: createLogger('aggregator', settings.LOG_LEVEL ?? 'silent') },
  );
  const drained = await waitForDrain(kafka, namespace, config.AGGREGATOR_GROUP_ID, timeoutMs);
  const processingMs = Date.now() - started;
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const values = (await running.registry.getSingleMetric(name)?.get())?.values ?? [];
    return values
      .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
      .reduce((sum, v) => sum + v.value, 0);
  };
  const signals = await metric('trendradar_aggregator_signals_total', { stage: 'trends' });
  const lateSignals = await metric('trendradar_aggregator_late_signals_total');
  const windows = await metric('trendradar_aggregator_windows_total');
  const duplicateInteractions = await metric('trendradar_aggregator_duplicate_interactions_total');
  const readyWhenDrained = running.health().ready;
  const up = (await running.registry.getSingleMetric('trendradar_consumer_up')?.get())?.values ?? [];
  const consumersUp = Object.fromEntries(up.map((v) => [String(v.labels.group), v.value]));
  await running.stop();
  const readyWhenStopped = running.health().ready;
  const alerts = await readAlerts(kafka, topicNames(namespace)['reorder-alerts']);
  return {
    alerts,
    drained,
    processingMs,
    signals,
    lateSignals,
    windows,
    duplicateInteractions,
    readyWhenDrained,
    consumersUp,
    readyWhenStopped,
  };
}
