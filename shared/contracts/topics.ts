/**
 * Every Kafka topic of the pipeline as code: its contract (key and value schemas) and its
 * configuration. `trend-radar topics apply` makes the broker match this file; the JSON Schemas and
 * the AsyncAPI document in docs/ are generated from it.
 */
import { z } from 'zod';
import {
  AlertAction,
  CatalogueEmbedding,
  Interaction,
  InventoryLevel,
  LateSignal,
  Mention,
  NotificationDelivery,
  ReorderAlert,
  Signal,
  TrendWindow,
  Upload,
  WatermarkProgress,
} from './events.ts';
import { Id, Sku } from './primitives.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface TopicSpec {
  /** Stable identifier used in code; the broker-side name is `${namespace}.${id}.v${version}`. */
  id: TopicId;
  version: number;
  description: string;
  key: z.ZodType<string>;
  keyDescription: string;
  /** null for the dead-letter topic, whose values are the original bytes. */
  value: z.ZodType | null;
  partitions: number;
  /** Broker-side topic configuration (retention, cleanup policy, …). */
  config: Record<string, string>;
  producedBy: string[];
  consumedBy: string[];
}

export type TopicId =
  | 'uploads'
  | 'interactions'
  | 'mentions'
  | 'catalogue-embeddings'
  | 'inventory'
  | 'signals-by-sku'
  | 'late-signals'
  | 'trend-windows'
  | 'reorder-alerts'
  | 'alert-actions'
  | 'notifier-deliveries'
  | 'aggregator-attribution-changelog'
  | 'aggregator-trend-changelog'
  | 'dead-letters';

const retention = (days: number) => ({ 'cleanup.policy': 'delete', 'retention.ms': String(days * DAY_MS) });
const compacted = {
  'cleanup.policy': 'compact',
  'min.compaction.lag.ms': String(60 * 60 * 1000),
  'delete.retention.ms': String(DAY_MS),
};
/** Internal state of one key of a stateful stage, as JSON; a null value deletes the key. */
const AggregatorState = z.unknown().describe('internal state of one key (JSON); null deletes the key');
/** Posts and their interactions share a key (post id) and so must share a partition count. */
const POST_PARTITIONS = 6;

export const TOPICS: readonly TopicSpec[] = [
  {
    id: 'uploads',
    version: 1,
    description: 'Member photo uploads as accepted by the ingest service.',
    key: Id,
    keyDescription: 'post id',
    value: Upload,
    partitions: POST_PARTITIONS,
    config: retention(400),
    producedBy: ['ingest'],
    consumedBy: ['embedder', 'indexer'],
  },
  {
    id: 'interactions',
    version: 1,
    description: 'Likes, saves, wishlist adds, shares and comments on posts.',
    key: Id,
    keyDescription: 'post id',
    value: Interaction,
    partitions: POST_PARTITIONS,
    config: retention(400),
    producedBy: ['ingest'],
    consumedBy: ['aggregator'],
  },
  {
    id: 'mentions',
    version: 1,
    description: 'Catalogue SKUs recognised in upload photos, and explicit no-match records.',
    key: Id,
    keyDescription: 'post id',
    value: Mention,
    partitions: POST_PARTITIONS,
    config: retention(400),
    producedBy: ['embedder'],
    consumedBy: ['aggregator', 'indexer'],
  },
  {
    id: 'catalogue-embeddings',
    version: 1,
    description: 'Catalogue products with the embedding of each view; null value = SKU removed.',
    key: z
      .string()
      .regex(/^[A-Za-z0-9._-]+\|[^|]+$/, 'key is "<sku>|<modelId>@<descriptor>" or "<sku>|<modelId>"'),
    keyDescription:
      '`<sku>|<modelId>@<descriptor>`, each record also under the earlier `<sku>|<modelId>` (docs/embedder.md)',
    value: CatalogueEmbedding,
    partitions: 3,
    config: compacted,
    producedBy: ['catalogue'],
    consumedBy: ['embedder', 'aggregator', 'indexer'],
  },
  {
    id: 'inventory',
    version: 1,
    description: 'Latest stock position per SKU from the ERP.',
    key: Sku,
    keyDescription: 'SKU',
    value: InventoryLevel,
    partitions: 3,
    config: compacted,
    producedBy: ['erp (simulated by `trend-radar simulate`)'],
    consumedBy: ['aggregator'],
  },
  {
    id: 'signals-by-sku',
    version: 1,
    description:
      'Repartition topic: uploads and interactions attributed to SKUs, keyed by SKU; and, marked by the trend-radar-progress header, each attribution partition’s watermark, to every partition.',
    key: Sku,
    keyDescription: 'SKU (progress records: progress.<source partition>)',
    value: z.union([Signal, WatermarkProgress]),
    partitions: POST_PARTITIONS,
    config: retention(30),
    producedBy: ['aggregator (attribution)'],
    consumedBy: ['aggregator (windowing)'],
  },
  {
    id: 'late-signals',
    version: 1,
    description: 'Signals that arrived after their window closed (past the grace period).',
    key: Sku,
    keyDescription: 'SKU',
    value: LateSignal,
    partitions: 3,
    config: retention(30),
    producedBy: ['aggregator'],
    consumedBy: ['operators'],
  },
  {
    id: 'trend-windows',
    version: 1,
    description: 'Final result of every closed window per SKU and scope (global, per country).',
    key: Sku,
    keyDescription: 'SKU',
    value: TrendWindow,
    partitions: POST_PARTITIONS,
    config: retention(400),
    producedBy: ['aggregator'],
    consumedBy: ['indexer'],
  },
  {
    id: 'reorder-alerts',
    version: 1,
    description: 'Reorder alerts for buyers, with their evidence.',
    key: Sku,
    keyDescription: 'SKU',
    value: ReorderAlert,
    partitions: 3,
    config: retention(400),
    producedBy: ['aggregator'],
    consumedBy: ['notifier', 'indexer'],
  },
  {
    id: 'alert-actions',
    version: 1,
    description: "Buyers' responses to alerts: acknowledged, snoozed, ordered.",
    key: z.string().min(1).max(300),
    keyDescription: 'alert id',
    value: AlertAction,
    partitions: 3,
    config: retention(400),
    producedBy: ['notifier (inbox)'],
    consumedBy: ['notifier', 'indexer'],
  },
  {
    id: 'notifier-deliveries',
    version: 1,
    description: 'Delivery ledger of the notifier: which buyer got which alert on which channel.',
    key: z.string().min(1).max(520),
    keyDescription: '`<buyer>|<channel>|<alertId>`',
    value: NotificationDelivery,
    partitions: 3,
    config: compacted,
    producedBy: ['notifier'],
    consumedBy: ['notifier (read back at start)'],
  },
  {
    id: 'aggregator-attribution-changelog',
    version: 1,
    description:
      'State of the aggregator attribution stage (post → SKUs table, interactions waiting for their mention), written in the same transaction as its output and input offsets. Partition p holds the state of input partition p.',
    key: z.string().min(1).max(320),
    keyDescription:
      '`post|<postId>`, `pending|<postId>`, `seen|<eventId>` or `meta`; `~part|<i>|<key>` for the parts of a value over 256 KB',
    value: AggregatorState,
    partitions: POST_PARTITIONS,
    // Values are split at 256 KB (changelog-parts.ts); the margin keeps records of older versions readable.
    config: { ...compacted, 'max.message.bytes': String(8 * 1024 * 1024) },
    producedBy: ['aggregator (attribution)'],
    consumedBy: ['aggregator (restore after restart or rebalance)'],
  },
  {
    id: 'aggregator-trend-changelog',
    version: 1,
    description:
      'State of the aggregator windowing stage (open panes, baselines, alert episodes per SKU), written in the same transaction as its output and input offsets. Partition p holds the state of signals-by-sku partition p.',
    key: z.string().min(1).max(320),
    keyDescription:
      '`sku|<sku>`, `watermarks` or `meta`; `~part|<i>|<key>` for the parts of a value over 256 KB',
    value: AggregatorState,
    partitions: POST_PARTITIONS,
    // Values are split at 256 KB (changelog-parts.ts); the margin keeps records of older versions readable.
    config: { ...compacted, 'max.message.bytes': String(8 * 1024 * 1024) },
    producedBy: ['aggregator (windowing)'],
    consumedBy: ['aggregator (restore after restart or rebalance)'],
  },
  {
    id: 'dead-letters',
    version: 1,
    description:
      'Records any service could not process, value unchanged, with dlq.* headers: error, service, original topic, partition, offset.',
    key: z.string(),
    keyDescription: 'original key',
    value: null,
    partitions: 3,
    config: retention(30),
    producedBy: ['every service'],
    consumedBy: ['operators', '`trend-radar replay` to re-drive'],
  },
];

export function topicSpec(id: TopicId): TopicSpec {
  const spec = TOPICS.find((t) => t.id === id);
  if (!spec) throw new Error(`unknown topic id ${id}`);
  return spec;
}

/**
 * How long a topic keeps a record, counted from the record's timestamp (its `retention.ms`); the
 * broker deletes older records at its next retention check.
 */
export function retentionMs(id: TopicId): number {
  const value = topicSpec(id).config['retention.ms'];
  if (value === undefined) throw new Error(`topic ${id} is compacted: it has no time retention`);
  return Number(value);
}

/** Broker-side topic name. The namespace lets tests and tenants share one cluster. */
export function topicName(id: TopicId, namespace: string): string {
  return `${namespace}.${id}.v${topicSpec(id).version}`;
}

/** All broker-side names for one namespace, by id. */
export function topicNames(namespace: string): Record<TopicId, string> {
  return Object.fromEntries(TOPICS.map((t) => [t.id, topicName(t.id, namespace)])) as Record<TopicId, string>;
}
