import cron from 'node-cron';
import { z } from 'zod';
import { BaseEnv } from '../../shared/config/env.ts';
import { INDEXED_TOPICS } from './indexed-topics.ts';

export const RetentionEnv = z.object({
  /** Monthly indices whose month ended longer ago than this are deleted (posts, mentions, windows, alerts, actions). */
  ES_RETENTION_DAYS: z.coerce.number().int().positive().default(400),
  /** When the retention job runs (node-cron syntax, server time). */
  ES_RETENTION_CRON: z
    .string()
    .refine((expression) => cron.validate(expression), 'not a valid cron expression')
    .optional()
    .default('17 3 * * *'),
  /** Set to `off` to run no retention job in this process (another indexer replica runs it). */
  ES_RETENTION_JOB: z.enum(['on', 'off']).default('on'),
});

const IndexerSettings = BaseEnv.extend(RetentionEnv.shape).extend({
  /** Consumer group; defaults to `${TOPIC_NAMESPACE}.indexer`. */
  INDEXER_GROUP_ID: z.string().min(1).optional(),
  /** Records per bulk request (one Kafka partition's chunk). */
  INDEXER_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Partitions indexed in parallel (each its own bulk request). */
  INDEXER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
  /** Backoff while Elasticsearch is unavailable or rejecting (429/5xx): first wait, and cap. */
  INDEXER_BACKOFF_INITIAL_MS: z.coerce.number().int().min(10).default(500),
  INDEXER_BACKOFF_MAX_MS: z.coerce.number().int().min(10).default(30_000),
  /**
   * Public base URL of the notifier (the NOTIFIER_PUBLIC_URL buyers reach it at): uploaded photos
   * (`blob:sha256:<hex>`) get a browsable link `<base>/blobs/sha256/<hex>` in the indexed documents
   * (`photoLinks`, `photoLink`, `firstPhotoLink`), which Kibana shows as images. Unset: only
   * https/http photos have a link; blob references stay as they are.
   */
  INDEXER_PHOTO_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * A record dated further ahead of this clock is dead-lettered, not indexed: its time chooses a
   * monthly index, and a bad device clock or a producer that bypassed ingest would open one
   * months ahead (and make a single-document GET by alias fail: the alias then spans two indices).
   */
  INDEXER_MAX_FUTURE_SKEW_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** Which topics to index (comma-separated topic ids); all six by default. */
  INDEXER_TOPICS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(INDEXED_TOPICS)).min(1))
    .default([...INDEXED_TOPICS]),
});
export const IndexerEnv = IndexerSettings.superRefine((env, ctx) => {
  // A first wait over the cap would be cut to the cap at once: a setting that says nothing.
  if (env.INDEXER_BACKOFF_INITIAL_MS > env.INDEXER_BACKOFF_MAX_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['INDEXER_BACKOFF_INITIAL_MS'],
      message: `must be at most INDEXER_BACKOFF_MAX_MS (${env.INDEXER_BACKOFF_MAX_MS}), the longest wait between attempts`,
    });
});
export type IndexerConfig = z.infer<typeof IndexerEnv>;

export function indexerGroupId(config: Pick<IndexerConfig, 'INDEXER_GROUP_ID' | 'TOPIC_NAMESPACE'>): string {
  return config.INDEXER_GROUP_ID ?? `${config.TOPIC_NAMESPACE}.indexer`;
}

/** `user:password`: a user name without a colon, a colon, then the password (which may hold colons). */
const USER_PASSWORD = /^[^:]+:.+$/;

/** `trend-radar kibana import`: the shared settings (ES_INDEX_PREFIX names the data views) and the Kibana login. */
export const KibanaImportEnv = BaseEnv.extend({
  /** Basic authentication for Kibana, `user:password`; the `--auth` flag takes precedence. */
  KIBANA_AUTH: z.string().optional(),
}).superRefine((env, ctx) => {
  // Checked on the whole environment, not on the key, so that the message does not repeat the
  // value: a malformed one is likely a bare password.
  if (env.KIBANA_AUTH !== undefined && !USER_PASSWORD.test(env.KIBANA_AUTH))
    ctx.addIssue({
      code: 'custom',
      path: [],
      message:
        'KIBANA_AUTH must be user:password (a user name, a colon, then the password) for basic authentication; the value is not shown',
    });
});
