/**
 * Services started on a namespace whose topics were never created (`topics apply` not run) fail at
 * once, naming the missing topics and the command that creates them — instead of kafkajs' bare
 * "This server does not host this topic-partition" half a minute later, or (ingest) a service that
 * says it is ready and then answers every request 503 "retry".
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AggregatorEnv } from '../../../services/aggregator/config.ts';
import { startAggregator } from '../../../services/aggregator/service.ts';
import { CatalogueEnv } from '../../../services/catalogue/config.ts';
import { startCatalogueSync } from '../../../services/catalogue/service.ts';
import { EmbedderEnv } from '../../../services/embedder/config.ts';
import { startEmbedder } from '../../../services/embedder/service.ts';
import { IndexerEnv } from '../../../services/indexer/config.ts';
import { startIndexer } from '../../../services/indexer/service.ts';
import { ApiKeyStore } from '../../../services/ingest/api-keys.ts';
import { IngestEnv } from '../../../services/ingest/config.ts';
import { type IngestService, startIngest } from '../../../services/ingest/service.ts';
import { NotifierEnv } from '../../../services/notifier/config.ts';
import { startNotifier } from '../../../services/notifier/service.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { MissingTopicsError } from '../../../shared/kafka/required-topics.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';

const { kafkaBrokers, elasticsearchUrl } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'required-topics-test' });
const logger = createLogger('required-topics-test', 'silent');
const env = (namespace: string, extra: Record<string, string> = {}) => ({
  KAFKA_BROKERS: kafkaBrokers.join(','),
  ELASTICSEARCH_URL: elasticsearchUrl,
  TOPIC_NAMESPACE: namespace,
  ES_INDEX_PREFIX: namespace,
  LOG_LEVEL: 'silent',
  ...extra,
});
const CLI = fileURLToPath(new URL('../../../shared/cli/main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** Well under kafkajs' retries (about half a minute), which is how long the bare error took. */
const AT_ONCE_MS = 10_000;

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Starts a service, expecting MissingTopicsError at once; returns it. */
async function refusal(start: () => Promise<unknown>): Promise<MissingTopicsError> {
  const started = Date.now();
  const outcome = await start().then(
    async (service) => {
      await (service as { stop(): Promise<void> }).stop();
      return new Error('the service started');
    },
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(MissingTopicsError);
  expect(Date.now() - started).toBeLessThan(AT_ONCE_MS);
  return outcome as MissingTopicsError;
}

describe('a namespace whose topics were never applied', () => {
  it('ingest refuses to start, naming both topics and `topics apply`', async () => {
    const namespace = uniqueNamespace('unapplied-ingest');
    const error = await refusal(() =>
      startIngest(loadConfig(IngestEnv, env(namespace, { INGEST_PORT: '0' })), {
        kafka,
        logger,
        apiKeys: new ApiKeyStore([]),
      }),
    );
    expect(error.missing).toEqual([topicName('uploads', namespace), topicName('interactions', namespace)]);
    expect(error.message).toContain(`\`TOPIC_NAMESPACE=${namespace} trend-radar topics apply\``);
  });

  it('`trend-radar ingest run` exits 1 at once with that message, never listening', async () => {
    const namespace = uniqueNamespace('unapplied-cli');
    const started = Date.now();
    const { code, stderr, stdout } = await runCli(['ingest', 'run'], env(namespace, { INGEST_PORT: '0' }));
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(AT_ONCE_MS + 10_000);
    expect(stderr).toContain(
      `trend-radar: ingest cannot start: its 2 topics do not exist on the broker (TOPIC_NAMESPACE=${namespace}): ` +
        `${topicName('uploads', namespace)}, ${topicName('interactions', namespace)}\n` +
        `  create the namespace's topics with \`TOPIC_NAMESPACE=${namespace} trend-radar topics apply\``,
    );
    expect(`${stdout}${stderr}`).not.toMatch(/ingest listening|ingest running/);
  });

  it('the aggregator refuses to start, naming exactly the topics that are missing', async () => {
    const namespace = uniqueNamespace('unapplied-aggregator');
    const all = await refusal(() => startAggregator(loadConfig(AggregatorEnv, env(namespace)), { logger }));
    expect(all.missing).toContain(topicName('mentions', namespace));
    expect(all.missing).toContain(topicName('aggregator-trend-changelog', namespace));
    expect(all.missing).toHaveLength(11);

    // Applied in part (an older `topics apply`, a topic deleted by hand): only the others are named.
    await applyTopics(kafka, {
      namespace,
      specs: (['mentions', 'interactions', 'catalogue-embeddings', 'inventory'] as const).map(topicSpec),
    });
    const some = await refusal(() => startAggregator(loadConfig(AggregatorEnv, env(namespace)), { logger }));
    expect(some.missing).not.toContain(topicName('mentions', namespace));
    expect(some.missing).toContain(topicName('signals-by-sku', namespace));
    expect(some.missing).toHaveLength(7);
  });

  it('the embedder, indexer, notifier and catalogue sync refuse to start as well', async () => {
    const namespace = uniqueNamespace('unapplied-others');
    const embedder = await refusal(() =>
      startEmbedder(loadConfig(EmbedderEnv, env(namespace)), { kafka, logger }),
    );
    expect(embedder.missing).toEqual(
      (['catalogue-embeddings', 'uploads', 'mentions', 'dead-letters'] as const).map((id) =>
        topicName(id, namespace),
      ),
    );
    const indexer = await refusal(() =>
      startIndexer(loadConfig(IndexerEnv, env(namespace, { INDEXER_TOPICS: 'mentions' })), { kafka, logger }),
    );
    expect(indexer.missing).toEqual([topicName('mentions', namespace), topicName('dead-letters', namespace)]);
    const notifier = await refusal(() =>
      startNotifier(loadConfig(NotifierEnv, env(namespace, { NOTIFIER_PORT: '0' })), {
        kafka,
        logger,
        subscriptions: { buyers: [] },
      }),
    );
    expect(notifier.missing).toContain(topicName('reorder-alerts', namespace));
    const dir = await mkdtemp(join(tmpdir(), 'required-topics-'));
    dirs.push(dir);
    const catalogue = await refusal(() =>
      startCatalogueSync(
        loadConfig(CatalogueEnv, env(namespace, { CATALOGUE_FEED: join(dir, 'feed.json') })),
        {
          kafka,
          logger,
        },
      ),
    );
    expect(catalogue.missing).toEqual([topicName('catalogue-embeddings', namespace)]);
  });
});

describe('ingest with its topics', () => {
  let service: IngestService | undefined;
  afterAll(async () => {
    await service?.stop();
  });

  it('starts and is ready; is not ready once a topic it writes is gone', async () => {
    const namespace = uniqueNamespace('applied-ingest');
    await applyTopics(kafka, { namespace, specs: [topicSpec('uploads'), topicSpec('interactions')] });
    service = await startIngest(loadConfig(IngestEnv, env(namespace, { INGEST_PORT: '0' })), {
      kafka,
      logger,
      apiKeys: new ApiKeyStore([]),
    });
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);

    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [topicName('interactions', namespace)] });
    } finally {
      await admin.disconnect();
    }
    let status = 200;
    for (const deadline = Date.now() + 30_000; status === 200 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = (await fetch(`${service.url}/readyz`)).status;
    }
    expect(status).toBe(503);
  });
});

function runCli(
  args: string[],
  vars: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // The CLI itself, not bin/trend-radar.js: one process, so that the kill below ends it.
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
      env: { ...process.env, ...vars, LOG_LEVEL: 'info', INGEST_API_KEYS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
