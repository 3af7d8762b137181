import type { TopicId } from '../../shared/contracts/topics.ts';

/** The topics the indexer copies into Elasticsearch (a module of its own: the CLI checks flags with it at start-up). */
export const INDEXED_TOPICS = [
  'uploads',
  'mentions',
  'trend-windows',
  'reorder-alerts',
  'alert-actions',
  'catalogue-embeddings',
] as const satisfies readonly TopicId[];
export type IndexedTopic = (typeof INDEXED_TOPICS)[number];
