/**
 * A DESCRIPTOR_ID bump on the catalogue topic: after a sync with the new descriptor, an embedder
 * still on the previous descriptor starts (a restart) with its whole catalogue, and so does one on
 * the new descriptor; one that finds only legacy `<sku>|<modelId>` records uses them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogueEnv } from '../../../services/catalogue/config.ts';
import { syncCatalogue } from '../../../services/catalogue/sync.ts';
import { loadModel } from '../../../services/catalogue/vision-deps.ts';
import { EmbedderEnv } from '../../../services/embedder/config.ts';
import { startEmbedder } from '../../../services/embedder/service.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import type { ImageDescriber } from '../../../shared/vision/describer.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil } from '../../support/kafka.ts';
import { lumaProducts, writeJsonFeed } from '../catalogue/luma-feed.ts';

describe('catalogue keys carry the descriptor', () => {
  const logger = createLogger('descriptor-keys-test', 'warn');
  const catalogue = lumaProducts(6, 1);
  let kafka: Kafka;
  let describer: ImageDescriber;
  let next: ImageDescriber;
  let dir: string;
  let brokers: string;

  const namespaceWithTopics = async () => {
    const namespace = uniqueNamespace('desckeys');
    await applyTopics(kafka, {
      namespace,
      specs: (['uploads', 'mentions', 'catalogue-embeddings', 'dead-letters'] as const).map(topicSpec),
    });
    return namespace;
  };
  const env = (namespace: string) => ({
    KAFKA_BROKERS: brokers,
    TOPIC_NAMESPACE: namespace,
    BLOB_STORE_DIR: join(dir, 'blobs'),
    LOG_LEVEL: 'warn',
  });
  /** The catalogue size an embedder with `with` starts with. */
  const startedSize = async (namespace: string, with_: ImageDescriber) => {
    const embedder = await startEmbedder(loadConfig(EmbedderEnv, env(namespace)), {
      kafka,
      logger,
      describer: with_,
    });
    try {
      await embedder.ready();
      return embedder.catalogueSize();
    } finally {
      await embedder.stop();
    }
  };

  beforeAll(async () => {
    const { kafkaBrokers } = integrationEnv();
    brokers = kafkaBrokers.join(',');
    kafka = createKafka({ brokers: kafkaBrokers, clientId: 'descriptor-keys-test' });
    dir = await mkdtemp(join(tmpdir(), 'descriptor-keys-'));
    describer = await loadModel(loadConfig(CatalogueEnv, { LOG_LEVEL: 'warn' }));
    // The same model behind another descriptor id: what a DESCRIPTOR_ID bump looks like on the topic.
    next = Object.assign(Object.create(describer) as ImageDescriber, { descriptorId: 'next-v2' });
  });

  afterAll(async () => {
    await describer?.encoder.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an embedder on the previous descriptor restarts with its catalogue after a bump', async () => {
    const namespace = await namespaceWithTopics();
    const feed = await writeJsonFeed(dir, 'feed.json', catalogue);
    const config = loadConfig(CatalogueEnv, env(namespace));
    await syncCatalogue(config, { feedPath: feed, kafka, logger, describer });
    await syncCatalogue(config, { feedPath: feed, kafka, logger, describer: next });
    expect(await startedSize(namespace, describer)).toBe(catalogue.length);
    expect(await startedSize(namespace, next)).toBe(catalogue.length);
  });

  it('an embedder uses records written with the legacy <sku>|<modelId> key', async () => {
    const scratch = await namespaceWithTopics();
    await syncCatalogue(loadConfig(CatalogueEnv, env(scratch)), {
      feedPath: await writeJsonFeed(dir, 'legacy.json', catalogue),
      kafka,
      logger,
      describer,
    });
    // A topic as the previous version wrote it: the legacy-key records only.
    const written = await collectUntil(
      kafka,
      topicName('catalogue-embeddings', scratch),
      (r) => r.length >= 2 * catalogue.length,
    );
    const namespace = await namespaceWithTopics();
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: topicName('catalogue-embeddings', namespace),
        messages: written
          .filter((r) => !r.message.key!.toString().includes('@'))
          .map((r) => ({ key: r.message.key!.toString(), value: r.message.value })),
      });
    } finally {
      await producer.disconnect();
    }
    expect(await startedSize(namespace, describer)).toBe(catalogue.length);
  });
});
