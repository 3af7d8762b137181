/**
 * Every setting is an environment variable, validated once at start-up. Each service extends
 * `BaseEnv` with its own keys; docs/configuration.md lists them all.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
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

/** `host:port` with a port from 1 to 65535 (kafkajs splits on the colon, so no IPv6 literals). */
const BROKER = /^[^\s:/]+:(\d{1,5})$/;
const isBroker = (entry: string) => {
  const port = Number(BROKER.exec(entry)?.[1] ?? 0);
  return port >= 1 && port <= 65535;
};

/** Bootstrap brokers: every entry is `host:port`, or the client fails much later on a NaN port. */
const brokers = csv.superRefine((list, ctx) => {
  const bad = list.filter((entry) => !isBroker(entry));
  if (bad.length > 0)
    ctx.addIssue({
      code: 'custom',
      message:
        `every broker must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:9092 — ` +
        `${bad.map((entry) => JSON.stringify(entry)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not`,
    });
});

/**
 * An http:// or https:// URL. z.url() alone takes any scheme (ftp://…, mailto:…), which the HTTP
 * clients then refuse much later without naming the setting.
 */
export const httpUrl = () =>
  z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, e.g. http://127.0.0.1:9200' });

export const BaseEnv = z.object({
  KAFKA_BROKERS: brokers.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().min(1).default('trend-radar'),
  /** Prefix of every topic name: `${TOPIC_NAMESPACE}.uploads.v1`. */
  TOPIC_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, _ and - only')
    .default('trendradar'),
  ELASTICSEARCH_URL: httpUrl().default('http://127.0.0.1:9200'),
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

/**
 * The servers the environment names, validated, when it names both (blank = unset): the demo and
 * the integration tests then use them and start nothing. Null when either is missing.
 */
export function serversFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): { kafkaBrokers: string[]; elasticsearchUrl: string } | null {
  if (!env.KAFKA_BROKERS?.trim() || !env.ELASTICSEARCH_URL?.trim()) return null;
  const servers = loadConfig(BaseEnv.pick({ KAFKA_BROKERS: true, ELASTICSEARCH_URL: true }), env);
  return { kafkaBrokers: servers.KAFKA_BROKERS, elasticsearchUrl: servers.ELASTICSEARCH_URL };
}

/** A TCP port from 1 to `max`: the stack also takes a second port above it (`reason`). */
const stackPort = (fallback: number, max: number, reason: string) =>
  z.coerce
    .number()
    .int('must be a whole number')
    .min(1, `must be a port from 1 to ${max}`)
    .max(max, `must be a port from 1 to ${max} (${reason})`)
    .default(fallback);

/** `~` and `~/…` name the home folder (an env file does not expand them as a shell does). */
const expandHome = (path: string) =>
  path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;

/** Settings of `trend-radar stack …` (and the integration tests' local stack). */
export const StackEnv = z.object({
  /** Artifact cache, data and logs of the local stack. */
  TREND_RADAR_HOME: z
    .string()
    .transform(expandHome)
    .refine(
      isAbsolute,
      'must be an absolute path (a relative one would put the stack under the current folder)',
    )
    .default(() => join(homedir(), '.cache', 'trend-radar')),
  STACK_KAFKA_PORT: stackPort(9092, 65534, 'the KRaft controller takes the next port'),
  STACK_ELASTICSEARCH_PORT: stackPort(9200, 65435, 'the transport takes port + 100'),
  STACK_KAFKA_HEAP: z
    .string()
    .regex(/^\d+[kmg]$/i, 'a JVM heap size such as 512m or 2g')
    .default('512m'),
  STACK_ELASTICSEARCH_HEAP: z
    .string()
    .regex(/^\d+[kmg]$/i, 'a JVM heap size such as 512m or 2g')
    .default('1g'),
});
export type StackEnv = z.infer<typeof StackEnv>;

/** A number as people write it in settings: optional sign, digits, optional decimal point. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** Validates `env` against `schema`, throwing one ConfigError that names every bad variable. */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Values are trimmed, and blank ones mean "unset" so that `FOO= trend-radar …` (or a stray space
  // in an env file) falls back to the default instead of reading as 0.
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    const trimmed = value?.trim();
    if (trimmed) cleaned[key] = trimmed;
  }
  // z.coerce.number() is Number(): it would read "0x10" as 16 and "1e3" as 1000. Numeric settings
  // take plain decimals only; a bad one is reported (and left out so it adds no second message).
  const lines: string[] = [];
  for (const key of numericKeys(schema)) {
    const value = cleaned[key];
    if (value === undefined || DECIMAL.test(value)) continue;
    lines.push(
      `  ${key}=${JSON.stringify(value)}: must be a decimal number (digits, optional sign and point)`,
    );
    delete cleaned[key];
  }
  const parsed = schema.safeParse(cleaned);
  if (parsed.success && lines.length === 0) return parsed.data;
  for (const issue of parsed.error?.issues ?? []) {
    const key = issue.path.join('.') || '(environment)';
    const value = typeof issue.path[0] === 'string' ? cleaned[issue.path[0]] : undefined;
    lines.push(`  ${key}${value === undefined ? '' : `=${JSON.stringify(value)}`}: ${issue.message}`);
  }
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

/** Keys of an object schema whose value is coerced to a number (possibly optional or defaulted). */
function numericKeys(schema: z.ZodType): string[] {
  const shape = (schema as { shape?: Record<string, z.ZodType> }).shape;
  return shape ? Object.keys(shape).filter((key) => coercesToNumber(shape[key]!)) : [];
}

function coercesToNumber(schema: z.ZodType): boolean {
  const def = schema._zod.def as { type: string; coerce?: boolean; innerType?: z.ZodType; in?: z.ZodType };
  if (def.type === 'number') return def.coerce === true;
  // default, optional, nullable, catch, … wrap `innerType`; a pipe starts with `in`.
  const inner = def.innerType ?? def.in;
  return inner ? coercesToNumber(inner) : false;
}
