/**
 * Runs the ingest service in-process: `startIngest(config)` connects the producer, loads the API
 * keys, listens, and returns `stop()`, which drains: /readyz turns 503, the listener closes and
 * in-flight requests finish (their records acknowledged), then the producer disconnects — all of
 * it within INGEST_SHUTDOWN_GRACE_MS, also while the broker is away.
 */
import type { Kafka, Producer } from 'kafkajs';
import { type BlobStore, FilesystemBlobStore } from '../../shared/blobstore/blob-store.ts';
import { connectProducer, createKafka } from '../../shared/kafka/client.ts';
import { applyTopicsCommand, missingTopics, requireTopics } from '../../shared/kafka/required-topics.ts';
import { createLogger, type Logger } from '../../shared/observability/logger.ts';
import { createRegistry, type Registry } from '../../shared/observability/metrics.ts';
import { type ApiKeyStore, loadApiKeys } from './api-keys.ts';
import type { IngestConfig } from './config.ts';
import { buildIngestServer } from './server.ts';

/** The topics ingest writes. */
const INGEST_TOPICS = ['uploads', 'interactions'] as const;

export interface IngestServiceDeps {
  kafka?: Kafka;
  /** Shared producer (not disconnected by stop()); otherwise the service connects its own. */
  producer?: Producer;
  blobStore?: BlobStore;
  apiKeys?: ApiKeyStore;
  registry?: Registry;
  logger?: Logger;
  resolveHost?: (host: string) => Promise<string[]>;
}

export interface IngestService {
  url: string;
  port: number;
  registry: Registry;
  stop(): Promise<void>;
}

export async function startIngest(
  config: IngestConfig,
  deps: IngestServiceDeps = {},
): Promise<IngestService> {
  const logger = deps.logger ?? createLogger('ingest', config.LOG_LEVEL);
  const registry = deps.registry ?? createRegistry('ingest');
  const kafka =
    deps.kafka ?? createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
  const apiKeys =
    deps.apiKeys ??
    (await loadApiKeys({
      file: config.INGEST_API_KEYS_FILE,
      inline: config.INGEST_API_KEYS,
      onReloadError: (error) =>
        logger.error({ err: error }, 'the API keys file changed but cannot be read: the keys in use stay'),
    }));
  if (apiKeys.size === 0) logger.warn('no API keys configured: every /v1 request will be refused (401)');
  const admin = kafka.admin();
  await admin.connect();
  // Without its topics every request would wait out the producer's retries and answer 503 "retry":
  // a retry that can never succeed. Refuse to start instead, naming the topics and the fix.
  try {
    await requireTopics(admin, 'ingest', config.TOPIC_NAMESPACE, INGEST_TOPICS);
  } catch (error) {
    await admin.disconnect();
    throw error;
  }
  const producer = deps.producer ?? (await connectProducer(kafka));

  const server = buildIngestServer(config, {
    producer,
    blobStore: deps.blobStore ?? new FilesystemBlobStore(config.BLOB_STORE_DIR),
    apiKeys,
    registry,
    logger,
    resolveHost: deps.resolveHost,
    // Can take records while the broker answers (the same metadata request as describeCluster:
    // kafkajs asks for every topic either way) and still has both topics; the server logs a change.
    checkBroker: async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 2 s')), 2_000);
      });
      let topics: string[];
      try {
        topics = await Promise.race([admin.listTopics(), timeout]);
      } catch (error) {
        return { ok: false, problem: 'unreachable', detail: (error as Error).message };
      } finally {
        clearTimeout(timer);
      }
      const missing = missingTopics(INGEST_TOPICS, config.TOPIC_NAMESPACE, topics);
      return missing.length > 0
        ? { ok: false, problem: 'topics-missing', missing, fix: applyTopicsCommand(config.TOPIC_NAMESPACE) }
        : { ok: true };
    },
  });
  const address = await server.app.listen({ host: config.INGEST_HOST, port: config.INGEST_PORT });
  const port = server.app.server.address() as { port: number };
  logger.info({ address }, 'ingest listening');

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      server.drain();
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<'over'>((resolve) => {
        graceTimer = setTimeout(() => resolve('over'), config.INGEST_SHUTDOWN_GRACE_MS).unref();
      });
      const drained = (async () => {
        // close() stops accepting, waits for in-flight requests (whose records are acknowledged
        // first, or which get 503 at their produce deadline).
        await server.app.close();
        await server.batcher.flush();
        await admin.disconnect();
        if (!deps.producer) await producer.disconnect();
      })();
      // Past the grace period it is not awaited any more (kafkajs may retry a send for minutes).
      drained.catch(() => {});
      try {
        if ((await Promise.race([drained, grace])) === 'over') {
          // The requests still open got no answer: their clients re-send with the same event ids.
          logger.warn(
            { graceMs: config.INGEST_SHUTDOWN_GRACE_MS, recordsQueued: server.batcher.waiting },
            'shutdown grace period over (is the broker reachable?): stopping without waiting for the rest',
          );
          server.app.server.closeAllConnections();
          void admin.disconnect().catch(() => {});
          if (!deps.producer) void producer.disconnect().catch(() => {});
        }
      } finally {
        clearTimeout(graceTimer);
      }
      logger.info('ingest stopped');
    })();
    return stopped;
  };
  return { url: `http://${config.INGEST_HOST}:${port.port}`, port: port.port, registry, stop };
}
