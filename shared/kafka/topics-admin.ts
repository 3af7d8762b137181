/**
 * Makes the broker match shared/contracts/topics.ts: creates missing topics, raises partition
 * counts that are too low (never lowers: Kafka cannot), and sets configs that drifted. Idempotent.
 */
import kafkajs, { type Kafka } from 'kafkajs';
import { TOPICS, type TopicSpec, topicName } from '../contracts/topics.ts';

// kafkajs is CommonJS and this enum is not visible to ESM named-import detection.
const { ConfigResourceTypes } = kafkajs;

export interface TopicChange {
  topic: string;
  action: 'created' | 'partitions-increased' | 'config-updated' | 'unchanged';
  detail?: string;
}

export interface ApplyOptions {
  namespace: string;
  replicationFactor?: number;
  /** Only these specs (defaults to all). */
  specs?: readonly TopicSpec[];
  dryRun?: boolean;
}

/**
 * Right after topics are created, a broker can briefly answer "does not host this topic-partition"
 * until its metadata catches up; those answers are retried, anything else is thrown at once.
 */
export async function applyTopics(kafka: Kafka, options: ApplyOptions): Promise<TopicChange[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyTopicsOnce(kafka, options);
    } catch (error) {
      const retriable =
        (error as { retriable?: boolean }).retriable === true ||
        /does not host this topic-partition/.test(String(error));
      if (!retriable || attempt >= 6) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    }
  }
}

async function applyTopicsOnce(kafka: Kafka, options: ApplyOptions): Promise<TopicChange[]> {
  const { namespace, replicationFactor = 1, specs = TOPICS, dryRun = false } = options;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const changes: TopicChange[] = [];
    const wanted = specs.map((spec) => ({ spec, name: topicName(spec.id, namespace) }));

    const missing = wanted.filter((w) => !existing.has(w.name));
    if (missing.length > 0 && !dryRun) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map(({ spec, name }) => ({
          topic: name,
          numPartitions: spec.partitions,
          replicationFactor,
          configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    for (const { name } of missing) changes.push({ topic: name, action: 'created' });

    const present = wanted.filter((w) => existing.has(w.name));
    if (present.length === 0) return changes;
    const metadata = await admin.fetchTopicMetadata({ topics: present.map((w) => w.name) });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((w) => ({ type: ConfigResourceTypes.TOPIC, name: w.name })),
    });
    for (const { spec, name } of present) {
      const partitions = metadata.topics.find((t) => t.name === name)?.partitions.length ?? 0;
      const current = new Map(
        configs.resources
          .find((r) => r.resourceName === name)
          ?.configEntries.map((e) => [e.configName, e.configValue]),
      );
      const drift = Object.entries(spec.config).filter(([key, value]) => current.get(key) !== value);
      if (partitions < spec.partitions) {
        if (!dryRun)
          await admin.createPartitions({ topicPartitions: [{ topic: name, count: spec.partitions }] });
        changes.push({
          topic: name,
          action: 'partitions-increased',
          detail: `${partitions} → ${spec.partitions}`,
        });
      }
      if (drift.length > 0) {
        if (!dryRun) {
          await admin.alterConfigs({
            validateOnly: false,
            resources: [
              {
                type: ConfigResourceTypes.TOPIC,
                name,
                // alterConfigs replaces the topic's whole dynamic config, so send all of it.
                configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
              },
            ],
          });
        }
        changes.push({
          topic: name,
          action: 'config-updated',
          detail: drift
            .map(([key, value]) => `${key}: ${current.get(key) ?? '(default)'} → ${value}`)
            .join(', '),
        });
      }
      if (partitions >= spec.partitions && drift.length === 0)
        changes.push({ topic: name, action: 'unchanged' });
    }
    return changes;
  } finally {
    await admin.disconnect();
  }
}
