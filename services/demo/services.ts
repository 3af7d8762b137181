/** Starts every Trend Radar service in this process for the demo, each logging to its own file. */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../shared/config/env.ts';
import { TOPICS, topicName } from '../../shared/contracts/topics.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import { demoBuyers } from './buyers.ts';
import type { GroupTopics } from './lag.ts';

export interface DemoServices {
  ingestUrl: string;
  ingestApiKey: string;
  inboxUrl: string;
  /** Consumer groups whose lag says whether the pipeline has caught up. */
  consumerGroups: GroupTopics[];
  /** Partitions written in transactions: each may keep one commit marker that no one consumes. */
  transactionalPartitions: number;
  stop(): Promise<void>;
}

export interface DemoServiceContext {
  env: NodeJS.ProcessEnv;
  catalogueDir: string;
  workDir: string;
  logFor: (service: string) => Logger;
  step: <T>(label: string, work: () => Promise<T>) => Promise<T>;
  print: (line?: string) => void;
}

export async function startDemoServices(context: DemoServiceContext): Promise<DemoServices> {
  const { env, logFor, step } = context;
  const namespace = env.TOPIC_NAMESPACE!;
  const stops: Array<() => Promise<void>> = [];
  const topic = (id: Parameters<typeof topicName>[0]) => topicName(id, namespace);

  const embedder = await startVision(context);
  stops.push(embedder.stop);

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
    const aggregator = await startAggregator(loadConfig(AggregatorEnv, env), {
      logger: logFor('aggregator'),
    });
    stops.unshift(aggregator.stop);
    const indexer = await startIndexer(loadConfig(IndexerEnv, env), { logger: logFor('indexer') });
    stops.unshift(indexer.stop);
    const notifier = await startNotifier(loadConfig(NotifierEnv, { ...env, NOTIFIER_PORT: '0' }), {
      logger: logFor('notifier'),
      subscriptions: parseSubscriptions(demoBuyers(products), 'demo buyers'),
    });
    stops.unshift(notifier.stop);
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
    // Ingest stops first so nothing new enters while the rest drains.
    stops.unshift(ingest.stop);
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
    stop: async () => {
      for (const stop of stops) await stop().catch(() => {});
    },
  };
}

const feedPath = (catalogueDir: string) => `${catalogueDir}/catalogue.json`;

/** Catalogue sync (embeds every view once, incrementally after that) and the embedding worker. */
async function startVision(
  context: DemoServiceContext,
): Promise<{ stop(): Promise<void>; consumerGroups: GroupTopics[] }> {
  const { env, step, catalogueDir, logFor, print } = context;
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
    const embedder = await startEmbedder(config, { logger: logFor('embedder') });
    await embedder.ready();
    return {
      stop: embedder.stop,
      consumerGroups: [{ groupId: embedder.groupId, topics: [topicName('uploads', namespace)] }],
    };
  });
}
