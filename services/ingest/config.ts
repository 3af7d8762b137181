/** Settings of the ingest service (environment variables, validated at start-up). */
import { z } from 'zod';
import { BaseEnv } from '../../shared/config/env.ts';
import { retentionMs } from '../../shared/contracts/topics.ts';

const csvList = z.string().transform((s) =>
  s
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter(Boolean),
);

export const IngestEnv = BaseEnv.extend({
  INGEST_HOST: z.string().min(1).default('127.0.0.1'),
  INGEST_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** JSON file of `{ name, sha256 }` entries (see `trend-radar ingest mint-key`). */
  INGEST_API_KEYS_FILE: z.string().min(1).optional(),
  /** Inline alternative to the file: `name:sha256hex,name2:sha256hex`. */
  INGEST_API_KEYS: z.string().min(1).optional(),
  /** Requests per key per minute. */
  INGEST_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(6_000),
  /** Largest JSON / NDJSON request body. */
  INGEST_MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /** Largest single image in a multipart upload. */
  INGEST_MAX_IMAGE_BYTES: z.coerce.number().int().positive().default(10_485_760),
  /** Most interactions in one batch request. */
  INGEST_MAX_BATCH: z.coerce.number().int().positive().max(100_000).default(1_000),
  /** Event times further than this in the future are rejected (clock-skew allowance). */
  INGEST_MAX_FUTURE_SKEW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(15 * 60_000),
  /**
   * Event times older than this are rejected: past the retention of the uploads and interactions
   * topics (400 days), the broker would delete them at once. Default 365 days.
   */
  INGEST_MAX_EVENT_AGE_MS: z.coerce
    .number()
    .int()
    .positive()
    .max(Math.min(retentionMs('uploads'), retentionMs('interactions')))
    .default(365 * 86_400_000),
  /** Host names exempt from the SSRF address checks (e.g. an internal CDN), comma-separated. */
  INGEST_URL_ALLOW_HOSTS: csvList.default([]),
  /**
   * Extra wait to gather records from concurrent requests into one send. 0: send at once; records
   * still gather while the previous send is in flight (group commit), which is enough under load.
   */
  INGEST_LINGER_MS: z.coerce.number().min(0).max(1_000).default(0),
  /** Records per producer send at most. */
  INGEST_PRODUCER_BATCH_MAX: z.coerce.number().int().positive().default(5_000),
  /**
   * Encoded bytes of one topic's records per producer send at most; a larger round goes out in
   * several sends. Under the topics' max.message.bytes (the broker's default is 1 MiB), or the
   * broker would refuse the batch of a busy partition — for ever, since a re-send is the same batch.
   */
  INGEST_PRODUCER_BATCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(64 * 1024 * 1024)
    .default(900_000),
  /** Records waiting for the broker at most; beyond, requests get 503 `overloaded` (back-pressure). */
  INGEST_MAX_PENDING_RECORDS: z.coerce.number().int().positive().default(100_000),
  /**
   * Longest wait for the broker's acknowledgement of a request's records; past it the request gets
   * 503 `broker-unavailable` with Retry-After (the client re-sends with the same event ids).
   * Without it a request would wait out kafkajs' retries: a minute or more while the broker is away.
   */
  INGEST_PRODUCE_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  /** On shutdown, the whole drain (in-flight requests, last sends, disconnect) gets this long. */
  INGEST_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
}).refine((c) => c.INGEST_MAX_PENDING_RECORDS >= c.INGEST_MAX_BATCH, {
  message: 'must be at least INGEST_MAX_BATCH, or a full batch could never be accepted',
  path: ['INGEST_MAX_PENDING_RECORDS'],
});
export type IngestConfig = z.infer<typeof IngestEnv>;
