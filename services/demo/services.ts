/** Starts every Trend Radar service in this process for the demo, each logging to its own file. */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../shared/config/env.ts';
import { TOPICS, topicName } from '../../shared/contracts/topics.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import { demoBuyers } from './buyers.ts';
import type { GroupTopics } from './lag.ts';
import type { DemoSupervisor } from './supervisor.ts';

export interface DemoServices {
  ingestUrl: string;
  ingestApiKey: string;
  inboxUrl: string;
  /** Consumer groups whose lag says whether the pipeline has caught up. */
  consumerGroups: GroupTopics[];
  /** Partitions written in transactions: each may keep one commit marker that no one consumes. */
  transactionalPartitions: number;
  /** Stops every service (also those the supervisor stopped already: then it waits for that). */
  stop(): Promise<void>;
}

export interface DemoServiceContext {
  env: NodeJS.ProcessEnv;
  catalogueDir: string;
  workDir: string;
  logFor: (service: string) => Logger;
  step: <T>(label: string, work: () => Promise<T>) => Promise<T>;
  print: (line?: string) => void;
  /**
   * Hears a service that fails for good (each gets an `onFatal`; a consumer crash comes through
   * `failService`) and stops what was started: every service registers its stop there as it starts.
   */
  supervisor: DemoSupervisor;
}

export async function startDemoServices(context: DemoServiceContext): Promise<DemoServices> {
  const { env, logFor, step, supervisor } = context;
  const namespace = env.TOPIC_NAMESPACE!;
  const topic = (id: Parameters<typeof topicName>[0]) => topicName(id, namespace);

  const embedder = await startVision(context);

  const { AggregatorEnv } = await import('../aggregator/config.ts');
  const { startAggregator } = await import('../aggregator/service.ts');
  const { IndexerEnv } = await import('../indexer/config.ts');
  const { startIndexer } = await import('../indexer/service.ts');
  const { NotifierEnv } = await import('../notifier/config.ts');
  const { startNotifier } = await import('../notifier/service.ts');
  const { parseSubscriptions } = await import('../notifier/subscriptions.ts');
  const { IngestEnv } = await import('../ingest/config.ts');
  const { startIngest } = await import('../ingest/service.ts');
  const { hashApiKey } = await import('../ingest/api-keys.ts');
  const { readFeed } = await import('../catalogue/feed.ts');
  // The catch-all demo buyer follows the categories and brands of the catalogue in use.
  const { products } = await readFeed(feedPath(context.catalogueDir));

  const services = await step('Aggregator, indexer, notifier and ingest', async () => {
    // A stage that fails for good ends the demo (standalone, the aggregator exits 1).
    const aggregator = await startAggregator(loadConfig(AggregatorEnv, env), {
      logger: logFor('aggregator'),
      onFatal: supervisor.onFatal('aggregator'),
    });
    supervisor.add(aggregator.stop);
    const notifier = await startNotifier(loadConfig(NotifierEnv, { ...env, NOTIFIER_PORT: '0' }), {
      logger: logFor('notifier'),
      subscriptions: parseSubscriptions(demoBuyers(products), 'demo buyers'),
      onFatal: supervisor.onFatal('notifier'),
    });
    supervisor.add(notifier.stop);
    // The members' photos are uploaded blobs: the notifier serves them (/blobs/sha256/…), so the
    // indexed mentions and alerts link there and Kibana's photo columns show them.
    const indexer = await startIndexer(
      loadConfig(IndexerEnv, {
        ...env,
        INDEXER_PHOTO_BASE_URL: env.INDEXER_PHOTO_BASE_URL ?? notifier.inboxUrl,
      }),
      { logger: logFor('indexer'), onFatal: supervisor.onFatal('indexer') },
    );
    supervisor.add(indexer.stop);
    const apiKey = `demo-${randomBytes(24).toString('hex')}`;
    const ingest = await startIngest(
      loadConfig(IngestEnv, {
        ...env,
        INGEST_PORT: '0',
        INGEST_API_KEYS: `simulator:${hashApiKey(apiKey)}`,
        INGEST_RATE_LIMIT_PER_MINUTE: '1000000',
      }),
      { logger: logFor('ingest') },
    );
    // Ingest, started last, stops first: nothing new enters while the rest drains.
    supervisor.add(ingest.stop);
    return { ingest, apiKey, notifier, indexerGroup: indexer.groupId };
  });

  const transactional = ['signals-by-sku', 'trend-windows', 'reorder-alerts', 'late-signals'] as const;
  return {
    ingestUrl: services.ingest.url,
    ingestApiKey: services.apiKey,
    inboxUrl: services.notifier.inboxUrl,
    consumerGroups: [
      ...embedder.consumerGroups,
      { groupId: `${namespace}.aggregator.attribution`, topics: [topic('mentions'), topic('interactions')] },
      { groupId: `${namespace}.aggregator.trends`, topics: [topic('signals-by-sku')] },
      {
        groupId: services.indexerGroup,
        topics: [topic('mentions'), topic('trend-windows'), topic('reorder-alerts')],
      },
    ],
    transactionalPartitions: transactional.reduce(
      (sum, id) => sum + (TOPICS.find((t) => t.id === id)?.partitions ?? 0),
      0,
    ),
    stop: () => supervisor.stopAll(),
  };
}

const feedPath = (catalogueDir: string) => `${catalogueDir}/catalogue.json`;

/** Catalogue sync (embeds every view once, incrementally after that) and the embedding worker. */
async function startVision(context: DemoServiceContext): Promise<{ consumerGroups: GroupTopics[] }> {
  const { env, step, catalogueDir, logFor, print, supervisor } = context;
  const namespace = env.TOPIC_NAMESPACE!;
  const { CatalogueEnv } = await import('../catalogue/config.ts');
  const { syncCatalogue } = await import('../catalogue/sync.ts');
  const { EmbedderEnv } = await import('../embedder/config.ts');
  const { startEmbedder } = await import('../embedder/service.ts');
  await step('Catalogue sync: embed every product view and publish it', async () => {
    const report = await syncCatalogue(loadConfig(CatalogueEnv, env), {
      feedPath: feedPath(catalogueDir),
      logger: logFor('catalogue'),
    });
    print(`      ${JSON.stringify(report).slice(0, 200)}`);
  });
  return step('Embedding worker (ONNX model, catalogue index)', async () => {
    const config = loadConfig(EmbedderEnv, env);
    // The model does not fit its manifest: standalone, the embedder exits 1.
    const embedder = await startEmbedder(config, {
      logger: logFor('embedder'),
      onFatal: supervisor.onFatal('embedder'),
    });
    supervisor.add(embedder.stop);
    await embedder.ready();
    return {
      consumerGroups: [{ groupId: embedder.groupId, topics: [topicName('uploads', namespace)] }],
    };
  });
}
