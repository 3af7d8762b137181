/**
 * How the demo starts its services: each gets an `onFatal` that ends the demo naming it (before,
 * the aggregator's stages reported a fatal error to nobody: the demo went on without them), and
 * each registers its stop as it starts, so a failure stops what runs, ingest first.
 */
import { describe, expect, it, vi } from 'vitest';

type Deps = { onFatal?: (error: Error) => void };
const stubs = vi.hoisted(() => ({
  deps: new Map<string, { onFatal?: (error: Error) => void }>(),
  configs: new Map<string, unknown>(),
  stopped: [] as string[],
}));

const service = (name: string, extra: Record<string, unknown> = {}) => ({
  ...extra,
  stop: async () => {
    stubs.stopped.push(name);
  },
});

vi.mock('../../../services/catalogue/sync.ts', () => ({ syncCatalogue: async () => ({ products: 0 }) }));
vi.mock('../../../services/catalogue/feed.ts', () => ({
  readFeed: async () => ({ products: [{ sku: 'SH-1', category: 'Shoes', brand: 'Maison Rouge' }] }),
}));
vi.mock('../../../services/embedder/service.ts', () => ({
  startEmbedder: async (_config: unknown, deps: Deps) => {
    stubs.deps.set('embedder', deps);
    return service('embedder', { groupId: 'g.embedder', ready: async () => {} });
  },
}));
vi.mock('../../../services/aggregator/service.ts', () => ({
  startAggregator: async (_config: unknown, deps: Deps) => {
    stubs.deps.set('aggregator', deps);
    return service('aggregator');
  },
}));
vi.mock('../../../services/indexer/service.ts', () => ({
  startIndexer: async (config: unknown, deps: Deps) => {
    stubs.deps.set('indexer', deps);
    stubs.configs.set('indexer', config);
    return service('indexer', { groupId: 'g.indexer' });
  },
}));
vi.mock('../../../services/notifier/service.ts', () => ({
  startNotifier: async (_config: unknown, deps: Deps) => {
    stubs.deps.set('notifier', deps);
    return service('notifier', { inboxUrl: 'http://127.0.0.1:1/' });
  },
}));
vi.mock('../../../services/ingest/service.ts', () => ({
  startIngest: async () => service('ingest', { url: 'http://127.0.0.1:2' }),
}));

const { startDemoServices } = await import('../../../services/demo/services.ts');
const { DemoSupervisor } = await import('../../../services/demo/supervisor.ts');
const { createLogger } = await import('../../../shared/observability/logger.ts');

async function start() {
  stubs.deps.clear();
  stubs.configs.clear();
  stubs.stopped = [];
  const supervisor = new DemoSupervisor('/tmp/logs', () => () => {});
  const services = await startDemoServices({
    env: {
      KAFKA_BROKERS: '127.0.0.1:1',
      ELASTICSEARCH_URL: 'http://127.0.0.1:1',
      TOPIC_NAMESPACE: 'demo-wiring',
      ES_INDEX_PREFIX: 'demo-wiring',
      BLOB_STORE_DIR: '/tmp/demo-wiring-blobs',
    },
    catalogueDir: '/nonexistent/catalogue',
    workDir: '/tmp/demo-wiring',
    logFor: (name) => createLogger(name, 'silent'),
    step: (_label, work) => work(),
    print: () => {},
    supervisor,
  });
  return { supervisor, services };
}

describe('the demo services', () => {
  it.each(['embedder', 'aggregator', 'indexer', 'notifier'])(
    'a fatal error of the %s ends the demo, naming it',
    async (name) => {
      const { supervisor } = await start();
      const onFatal = stubs.deps.get(name)?.onFatal;
      expect(onFatal, `${name} is started with an onFatal`).toBeTypeOf('function');
      const waiting = supervisor.guard(new Promise(() => {}));
      onFatal!(new Error('cannot go on'));
      await expect(waiting).rejects.toThrow(`the ${name} failed for good (Error: cannot go on)`);
      expect(supervisor.failure?.service).toBe(name);
    },
  );

  it('stops every service once, ingest first and the embedder last', async () => {
    const { supervisor, services } = await start();
    await supervisor.stopAll();
    await services.stop();
    expect(stubs.stopped).toEqual(['ingest', 'indexer', 'notifier', 'aggregator', 'embedder']);
  });

  it('links the indexed photos to the notifier, which serves the uploaded blobs', async () => {
    await start();
    expect(stubs.configs.get('indexer')).toMatchObject({ INDEXER_PHOTO_BASE_URL: 'http://127.0.0.1:1/' });
  });
});
