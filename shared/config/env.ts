/**
 * Every setting is an environment variable, validated once at start-up. Each service extends
 * `BaseEnv` with its own keys; docs/configuration.md lists them all.
 */
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const csv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string()).min(1));

export const BaseEnv = z.object({
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().min(1).default('trend-radar'),
  /** Prefix of every topic name: `${TOPIC_NAMESPACE}.uploads.v1`. */
  TOPIC_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, _ and - only')
    .default('trendradar'),
  ELASTICSEARCH_URL: z.url().default('http://127.0.0.1:9200'),
  /** Prefix of every Elasticsearch index, alias and template. */
  ES_INDEX_PREFIX: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, _ and - only')
    .default('trendradar'),
  /** Root of the content-addressed blob store that holds uploaded image bytes. */
  BLOB_STORE_DIR: z.string().min(1).default('.trend-radar/blobs'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Port of the /metrics and /healthz endpoint of a long-running service; 0 picks a free one. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
});
export type BaseEnv = z.infer<typeof BaseEnv>;

/** Validates `env` against `schema`, throwing one ConfigError that names every bad variable. */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Empty strings mean "unset" so that `FOO= trend-radar …` falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(environment)';
    const value = typeof issue.path[0] === 'string' ? cleaned[issue.path[0]] : undefined;
    return `  ${key}${value === undefined ? '' : `=${JSON.stringify(value)}`}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}
