/** I/O helpers for the indexer, search and Kibana integration tests (real Kafka, real Elasticsearch). */
import type { Client } from '@elastic/elasticsearch';
import type { Kafka, Message } from 'kafkajs';
import { enrichAction } from '../../../services/indexer/documents.ts';
import {
  AlertAction,
  CatalogueEmbedding,
  Mention,
  ReorderAlert,
  TrendWindow,
  Upload,
} from '../../../shared/contracts/events.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { applyIndices } from '../../../shared/elasticsearch/apply.ts';
import { type ItemResult, indexUntilSettled } from '../../../shared/elasticsearch/bulk.ts';
import {
  alertActionAction,
  catalogueAction,
  type IndexAction,
  mentionAction,
  postAction,
  reorderAlertAction,
  trendWindowAction,
} from '../../../shared/elasticsearch/documents.ts';
import { type FamilyId, indexPattern } from '../../../shared/elasticsearch/indices.ts';
import { connectProducer } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import type { Scenario } from './scenario.ts';

export type ScenarioPart = Exclude<keyof Scenario, 'now'>;

/** Each part as Kafka messages, keyed as the topic contract says. */
export function scenarioMessages(
  scenario: Scenario,
  part: ScenarioPart,
): { topic: string; messages: Message[] } {
  switch (part) {
    case 'uploads':
      return {
        topic: 'uploads',
        messages: scenario.uploads.map((u) => ({ key: u.postId, value: encode(Upload, u) })),
      };
    case 'mentions':
      return {
        topic: 'mentions',
        messages: scenario.mentions.map((m) => ({ key: m.postId, value: encode(Mention, m) })),
      };
    case 'catalogue':
      return {
        topic: 'catalogue-embeddings',
        messages: scenario.catalogue.map((c) => ({
          key: `${c.sku}|${c.modelId}`,
          value: encode(CatalogueEmbedding, c),
        })),
      };
    case 'windows':
      return {
        topic: 'trend-windows',
        messages: scenario.windows.map((w) => ({ key: w.sku, value: encode(TrendWindow, w) })),
      };
    case 'alerts':
      return {
        topic: 'reorder-alerts',
        messages: scenario.alerts.map((a) => ({ key: a.sku, value: encode(ReorderAlert, a) })),
      };
    case 'actions':
      return {
        topic: 'alert-actions',
        messages: scenario.actions.map((a) => ({ key: a.alertId, value: encode(AlertAction, a) })),
      };
  }
}

export const ALL_PARTS: ScenarioPart[] = ['uploads', 'mentions', 'catalogue', 'windows', 'alerts', 'actions'];

export async function produceScenario(
  kafka: Kafka,
  namespace: string,
  scenario: Scenario,
  parts: ScenarioPart[] = ALL_PARTS,
): Promise<void> {
  const producer = await connectProducer(kafka);
  try {
    for (const part of parts) {
      const { topic, messages } = scenarioMessages(scenario, part);
      await producer.send({ topic: topicName(topic as never, namespace), acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

export async function produceRaw(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = await connectProducer(kafka);
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Documents in every index of the family, after a refresh so the count is current. */
export async function countDocs(client: Client, prefix: string, family: FamilyId): Promise<number> {
  const index = indexPattern(prefix, family);
  await client.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
  const { count } = await client.count({ index, allow_no_indices: true, ignore_unavailable: true });
  return count;
}

export async function countsOf(client: Client, prefix: string): Promise<Record<FamilyId, number>> {
  const families: FamilyId[] = [
    'posts',
    'mentions',
    'trend-windows',
    'reorder-alerts',
    'alert-actions',
    'catalogue',
  ];
  const counts = {} as Record<FamilyId, number>;
  for (const f of families) counts[f] = await countDocs(client, prefix, f);
  return counts;
}

export function expectedCounts(scenario: Scenario): Record<FamilyId, number> {
  return {
    posts: scenario.uploads.length,
    mentions: scenario.mentions.length,
    'trend-windows': scenario.windows.length,
    'reorder-alerts': scenario.alerts.length,
    'alert-actions': scenario.actions.length,
    catalogue: scenario.catalogue.length,
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last answer. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Writes the scenario straight into fresh indices under `prefix` (no Kafka), as the indexer
 * would (the shared projection plus the indexer's fields, services/indexer/documents.ts),
 * refreshed for search, for the tests of what reads the indices. The catalogue only when asked for.
 */
export async function seedIndices(
  client: Client,
  prefix: string,
  scenario: Scenario,
  options: { catalogue: boolean; photoBaseUrl?: string },
): Promise<ItemResult[]> {
  await applyIndices(client, { prefix, retentionDays: 400, now: scenario.now });
  const actions: IndexAction[] = [
    ...scenario.uploads.map((u) => postAction(prefix, u)),
    ...scenario.mentions.map((m) => mentionAction(prefix, m)),
    ...(options.catalogue ? scenario.catalogue.map((c) => catalogueAction(prefix, c)) : []),
    ...scenario.windows.map((w) => trendWindowAction(prefix, w)),
    ...scenario.alerts.map((a) => reorderAlertAction(prefix, a)),
    ...scenario.actions.map((a) => alertActionAction(prefix, a)),
  ].map((a) => enrichAction(a, { photoBaseUrl: options.photoBaseUrl }));
  const results = await indexUntilSettled(client, actions, { backoff: { initialMs: 100, maxMs: 1000 } });
  await client.indices.refresh({ index: `${prefix}-*` });
  return results;
}
