/**
 * A service checks at start that the topics it reads and writes exist, before it consumes or
 * produces anything. Without them kafkajs only says "This server does not host this
 * topic-partition" — after half a minute of retries, or, for a producer, on every send — and never
 * that `trend-radar topics apply` was not run for the namespace.
 */
import type { Admin, Kafka } from 'kafkajs';
import { type TopicId, topicName } from '../contracts/topics.ts';

/** The command that creates a namespace's topics. */
export const applyTopicsCommand = (namespace: string) =>
  `TOPIC_NAMESPACE=${namespace} trend-radar topics apply`;

/** A service's topics are not all on the broker: the message names them and the command that creates them. */
export class MissingTopicsError extends Error {
  override name = 'MissingTopicsError';
  constructor(
    readonly service: string,
    readonly namespace: string,
    readonly missing: readonly string[],
  ) {
    super(missingTopicsMessage(service, namespace, missing));
  }
}

/** The broker-side names of `ids` in `namespace` that `existing` lacks, in the order of `ids`, without repeats. */
export function missingTopics(
  ids: readonly TopicId[],
  namespace: string,
  existing: Iterable<string>,
): string[] {
  const present = new Set(existing);
  const wanted = [...new Set(ids.map((id) => topicName(id, namespace)))];
  return wanted.filter((name) => !present.has(name));
}

export function missingTopicsMessage(service: string, namespace: string, missing: readonly string[]): string {
  const topics = missing.length === 1 ? 'topic does' : `${missing.length} topics do`;
  return (
    `${service} cannot start: its ${topics} not exist on the broker (TOPIC_NAMESPACE=${namespace}): ${missing.join(', ')}\n` +
    `  create the namespace's topics with \`${applyTopicsCommand(namespace)}\` (same KAFKA_BROKERS), then start it again`
  );
}

/**
 * Throws MissingTopicsError unless every topic of `ids` exists in `namespace`. Takes a connected
 * admin client (left connected) or a Kafka client (an admin is connected for the check and closed).
 */
export async function requireTopics(
  client: Kafka | Admin,
  service: string,
  namespace: string,
  ids: readonly TopicId[],
): Promise<void> {
  const existing = await listTopics(client);
  const missing = missingTopics(ids, namespace, existing);
  if (missing.length > 0) throw new MissingTopicsError(service, namespace, missing);
}

async function listTopics(client: Kafka | Admin): Promise<string[]> {
  if ('listTopics' in client) return client.listTopics();
  const admin = client.admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}
