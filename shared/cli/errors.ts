/**
 * What `trend-radar` prints when a command fails: the error's own message, made useful where the
 * client libraries are terse — which server could not be reached and which setting names it, what
 * an HTTP server that is not Elasticsearch answered, and the per-topic causes that kafkajs keeps
 * in sub-errors. One or two lines each; configuration errors keep their list of variables.
 */
import { createConnection } from 'node:net';
import { BaseEnv } from '../config/env.ts';

/** The servers a command talks to, as the settings name them. */
export interface Endpoints {
  kafkaBrokers: string;
  elasticsearchUrl: string;
  /** TOPIC_NAMESPACE, for the hint about topics that do not exist. */
  topicNamespace?: string;
}

/** The endpoints from the environment, as loadConfig reads them (blank = unset = default). */
export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): Endpoints {
  const value = (key: string, fallback: string) => env[key]?.trim() || fallback;
  return {
    kafkaBrokers: value('KAFKA_BROKERS', BaseEnv.shape.KAFKA_BROKERS.parse(undefined).join(',')),
    elasticsearchUrl: value('ELASTICSEARCH_URL', BaseEnv.shape.ELASTICSEARCH_URL.parse(undefined)),
    topicNamespace: value('TOPIC_NAMESPACE', BaseEnv.shape.TOPIC_NAMESPACE.parse(undefined)),
  };
}

const LOCAL_HINT = 'for a local stack, run `trend-radar stack up` and use the settings it prints';

interface ErrorLike {
  name?: string;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
  type?: string;
  topic?: string;
  broker?: string;
  meta?: {
    statusCode?: number;
    body?: unknown;
    meta?: { connection?: { url?: { href?: string } | string } | null };
  };
}

const asErrorLike = (value: unknown): ErrorLike =>
  typeof value === 'object' && value !== null ? (value as ErrorLike) : { message: String(value) };

/** The error and its causes, outermost first. */
function chain(error: unknown): ErrorLike[] {
  const links: ErrorLike[] = [];
  for (let e: unknown = error; e !== undefined && e !== null && links.length < 10; ) {
    const link = asErrorLike(e);
    links.push(link);
    e = link.cause;
  }
  return links;
}

const KAFKA_UNREACHABLE =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|Connection (error|timeout)|Broker not connected|Closed connection|connect ECONN/i;
const KAFKA_CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);
const ES_CONNECTION_ERRORS = new Set(['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError']);

/** Hints for the broker's answers that are about what was asked for, not about the broker. */
const KAFKA_TYPE_HINTS: Record<string, string> = {
  INVALID_REPLICATION_FACTOR:
    'the replication factor is more than the brokers in the cluster: lower --replication-factor',
  POLICY_VIOLATION: "the broker's topic policy refused the settings",
  TOPIC_AUTHORIZATION_FAILED: 'the client may not create or change these topics',
  CLUSTER_AUTHORIZATION_FAILED: 'the client may not administer the cluster',
};

function kafkaTypeHint(type: string, endpoints: Endpoints): string | undefined {
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION')
    return (
      'a topic does not exist on the broker: create the topics of the namespace with ' +
      `\`TOPIC_NAMESPACE=${endpoints.topicNamespace ?? '<namespace>'} trend-radar topics apply\``
    );
  return KAFKA_TYPE_HINTS[type];
}

export function explainError(error: unknown, endpoints: Endpoints = endpointsFromEnv()): string {
  const links = chain(error);
  const top = links[0]!;
  const name = top.name ?? '';

  if (name === 'ConfigError') return top.message ?? 'invalid configuration';

  // kafkajs: "Topic creation errors" and friends keep their causes in `errors`.
  if (Array.isArray(top.errors) && top.errors.length > 0) return withSubErrors(top, endpoints);

  // Elasticsearch client errors carry the request's metadata.
  if (top.meta && typeof top.meta === 'object') {
    const explained = explainElasticsearch(top, endpoints);
    if (explained) return explained;
  }

  const kafka = links.some((l) => l.name?.startsWith('KafkaJS'));
  const unreachable = links.some(
    (l) => KAFKA_CONNECTION_ERRORS.has(l.name ?? '') || KAFKA_UNREACHABLE.test(l.message ?? ''),
  );
  if (unreachable && (kafka || /Broker not connected/.test(top.message ?? ''))) {
    const root = links[links.length - 1]!;
    return (
      `cannot reach the Kafka brokers KAFKA_BROKERS=${endpoints.kafkaBrokers} (${oneLine(root.message) || root.name})\n` +
      `  check KAFKA_BROKERS; ${LOCAL_HINT}`
    );
  }

  // The broker's answer, on the error itself or on the one kafkajs gave up retrying.
  const typed = links.find((l) => l.type);
  if (typed?.type && kafka) {
    const hint = kafkaTypeHint(typed.type, endpoints);
    const topic = typed.topic ?? top.topic;
    return `${oneLine(top.message) || oneLine(typed.message)} (${typed.type}${topic ? ` on ${topic}` : ''})${hint ? `\n  ${hint}` : ''}`;
  }

  const message = top.message?.trim();
  if (message) return message;
  return `${name || 'an error'} without a message${root(links)}`;
}

function root(links: ErrorLike[]): string {
  const last = links[links.length - 1]!;
  return links.length > 1 && last.message ? ` (caused by: ${oneLine(last.message)})` : '';
}

/** "Topic creation errors: INVALID_REPLICATION_FACTOR (Replication-factor is invalid) on 14 topics: a, b, …". */
function withSubErrors(top: ErrorLike, endpoints: Endpoints): string {
  const groups = new Map<string, string[]>();
  for (const sub of top.errors!.map(asErrorLike)) {
    const what = sub.type ? `${sub.type} (${oneLine(sub.message)})` : oneLine(sub.message) || sub.name || '?';
    groups.set(what, [...(groups.get(what) ?? []), ...(sub.topic ? [sub.topic] : [])]);
  }
  const parts = [...groups].map(([what, topics]) => {
    if (topics.length === 0) return what;
    const shown = topics.slice(0, 3).join(', ') + (topics.length > 3 ? ', …' : '');
    return `${what} on ${topics.length} topic${topics.length === 1 ? '' : 's'}: ${shown}`;
  });
  const hints = [
    ...new Set(
      top
        .errors!.map((e) => kafkaTypeHint(asErrorLike(e).type ?? '', endpoints))
        .filter((h): h is string => !!h),
    ),
  ];
  return `${oneLine(top.message) || top.name}: ${parts.join('; ')}${hints.length ? `\n  ${hints.join('; ')}` : ''}`;
}

function explainElasticsearch(top: ErrorLike, endpoints: Endpoints): string | undefined {
  const connection = top.meta?.meta?.connection?.url;
  const href = (typeof connection === 'string' ? connection : connection?.href)?.replace(/\/$/, '');
  const url = href ?? endpoints.elasticsearchUrl;
  const setting = `ELASTICSEARCH_URL=${endpoints.elasticsearchUrl}`;
  const name = top.name ?? '';
  if (ES_CONNECTION_ERRORS.has(name))
    return (
      `${name === 'TimeoutError' ? 'no answer in time from' : 'cannot reach'} Elasticsearch at ${url} (${oneLine(top.message) || name})\n` +
      `  check ELASTICSEARCH_URL; ${LOCAL_HINT}`
    );
  if (name === 'ProductNotSupportedError')
    return (
      `the server at ${url} answered, but it is not Elasticsearch\n` + `  check ${setting}; ${LOCAL_HINT}`
    );
  if (name !== 'ResponseError') return undefined;
  const status = top.meta?.statusCode;
  const body = top.meta?.body;
  const esError = (body as { error?: { type?: string; reason?: string } } | undefined)?.error;
  if (esError && typeof esError === 'object' && esError.type)
    return `Elasticsearch at ${url} answered HTTP ${status}: ${esError.type}${esError.reason ? `: ${oneLine(esError.reason)}` : ''}`;
  return (
    `the server at ${url} answered HTTP ${status} with ${describeBody(body)}, not an Elasticsearch answer\n` +
    `  check ${setting} names an Elasticsearch node; ${LOCAL_HINT}`
  );
}

function describeBody(body: unknown): string {
  if (body === undefined || body === null || (typeof body === 'string' && body.trim() === ''))
    return 'an empty body';
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (/^\s*<(!doctype|html|\?xml|head|body)/i.test(text)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
    return title ? `an HTML page ("${title.slice(0, 80)}")` : 'an HTML page';
  }
  const flat = oneLine(text);
  return `"${flat.slice(0, 120)}${flat.length > 120 ? '…' : ''}"`;
}

const oneLine = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ').trim();

/**
 * Fails within `timeoutMs` when no broker of the list accepts a TCP connection, instead of after
 * kafkajs' retries (half a minute), with the same explanation. A broker that accepts is left to
 * kafkajs to judge.
 */
export async function assertBrokersReachable(brokers: readonly string[], timeoutMs = 3_000): Promise<void> {
  const problems = await Promise.all(brokers.map((broker) => tcpProblem(broker, timeoutMs)));
  if (problems.some((p) => p === undefined)) return;
  const causes = brokers.map((broker, i) => `${broker}: ${problems[i]}`).join(', ');
  throw new Error(
    `cannot reach the Kafka brokers KAFKA_BROKERS=${brokers.join(',')} (${causes})\n  check KAFKA_BROKERS; ${LOCAL_HINT}`,
  );
}

function tcpProblem(broker: string, timeoutMs: number): Promise<string | undefined> {
  const separator = broker.lastIndexOf(':');
  const host = broker.slice(0, separator);
  const port = Number(broker.slice(separator + 1));
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer in ${timeoutMs / 1000}s`));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    socket.once('connect', () => done(undefined));
  });
}
