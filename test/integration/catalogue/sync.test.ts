import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogueKey,
  legacyCatalogueKey,
  readCatalogueState,
} from '../../../services/catalogue/catalogue-topic.ts';
import { type CatalogueConfig, CatalogueEnv } from '../../../services/catalogue/config.ts';
import { syncCatalogue } from '../../../services/catalogue/sync.ts';
import { loadModel } from '../../../services/catalogue/vision-deps.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import type { ImageDescriber } from '../../../shared/vision/describer.ts';
import { descriptorDimension } from '../../../shared/vision/descriptor.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil } from '../../support/kafka.ts';
import { lumaProducts, writeCsvFeed, writeJsonFeed } from './luma-feed.ts';

describe('catalogue sync against the real broker', () => {
  const namespace = uniqueNamespace('catalogue');
  const logger = createLogger('catalogue-test', 'warn');
  let kafka: Kafka;
  let config: CatalogueConfig;
  let describer: ImageDescriber;
  let dir: string;
  const products = lumaProducts(4, 2);
  const imageCount = products.reduce((n, p) => n + p.images.length, 0);
  const topic = topicName('catalogue-embeddings', namespace);

  beforeAll(async () => {
    const { kafkaBrokers } = integrationEnv();
    kafka = createKafka({ brokers: kafkaBrokers, clientId: 'catalogue-test' });
    await applyTopics(kafka, { namespace, specs: [topicSpec('catalogue-embeddings')] });
    config = loadConfig(CatalogueEnv, {
      KAFKA_BROKERS: kafkaBrokers.join(','),
      TOPIC_NAMESPACE: namespace,
      LOG_LEVEL: 'warn',
    });
    describer = await loadModel(config);
    dir = await mkdtemp(join(tmpdir(), 'catalogue-sync-'));
  });

  afterAll(async () => {
    await describer?.encoder.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('publishes every product once, re-embeds nothing when unchanged, tombstones removed SKUs', async () => {
    const feed = await writeJsonFeed(dir, 'feed.json', products);
    const first = await syncCatalogue(config, { feedPath: feed, kafka, logger, describer });
    expect(first).toMatchObject({
      products: 4,
      embedded: imageCount,
      reused: 0,
      published: 4,
      unchanged: 0,
      tombstoned: 0,
    });
    expect(first.imageProblems).toEqual([]);

    const { current: state, legacyOnly } = await readCatalogueState(
      kafka,
      topic,
      describer.modelId,
      describer.descriptorId,
    );
    expect([...state.keys()].sort()).toEqual(products.map((p) => p.sku).sort());
    expect(legacyOnly.size).toBe(0);
    const dimension = descriptorDimension(describer.encoder.manifest);
    for (const product of products) {
      const published = state.get(product.sku)!;
      expect(published.modelId).toBe(describer.modelId);
      expect(published.descriptor).toBe(describer.descriptorId);
      expect(published.views.map((v) => v.view)).toEqual(product.images.map((i) => i.view));
      for (const view of published.views) {
        expect(view.vector).toHaveLength(dimension);
        expect(view.contentHash).toMatch(/^[0-9a-f]{64}$/);
      }
    }

    const again = await syncCatalogue(config, { feedPath: feed, kafka, logger, describer });
    expect(again).toMatchObject({
      embedded: 0,
      reused: imageCount,
      published: 0,
      unchanged: 4,
      tombstoned: 0,
    });

    // The same products as CSV are the same catalogue: nothing to do.
    const csv = await writeCsvFeed(dir, 'feed.csv', products);
    expect(await syncCatalogue(config, { feedPath: csv, kafka, logger, describer })).toMatchObject({
      embedded: 0,
      published: 0,
      unchanged: 4,
    });

    // One SKU leaves, one gets a new main image (the bytes of another product's photo).
    const [gone, changed, ...rest] = products;
    const newImage = lumaProducts(1, 1, 40)[0]!.images[0]!.file;
    const next = [
      { ...changed!, images: [{ file: newImage, view: 'main' }, ...changed!.images.slice(1)] },
      ...rest,
    ];
    const third = await syncCatalogue(config, {
      feedPath: await writeJsonFeed(dir, 'next.json', next),
      kafka,
      logger,
      describer,
    });
    expect(third).toMatchObject({
      embedded: 1,
      published: 1,
      unchanged: 2,
      tombstoned: 1,
      removalRefused: [],
    });

    // Every record under its full key and the legacy key; a removed SKU loses both.
    const records = await collectUntil(kafka, topic, (r) => r.length >= 2 * (4 + 1 + 1));
    const tombstones = records.filter((r) => r.message.value === null).map((r) => r.message.key!.toString());
    expect(tombstones.sort()).toEqual(
      [
        catalogueKey(gone!.sku, describer.modelId, describer.descriptorId),
        legacyCatalogueKey(gone!.sku, describer.modelId),
      ].sort(),
    );
    const after = (await readCatalogueState(kafka, topic, describer.modelId, describer.descriptorId)).current;
    expect(after.has(gone!.sku)).toBe(false);
    expect(after.get(changed!.sku)!.views[0]!.contentHash).not.toBe(
      state.get(changed!.sku)!.views[0]!.contentHash,
    );
  });

  it('refuses to tombstone most of the catalogue from a truncated feed, and rejects an empty one', async () => {
    const ns = uniqueNamespace('catalogue');
    await applyTopics(kafka, { namespace: ns, specs: [topicSpec('catalogue-embeddings')] });
    const local = { ...config, TOPIC_NAMESPACE: ns };
    await syncCatalogue(local, {
      feedPath: await writeJsonFeed(dir, 'full.json', products),
      kafka,
      logger,
      describer,
    });
    const truncated = await syncCatalogue(local, {
      feedPath: await writeJsonFeed(dir, 'truncated.json', products.slice(0, 1)),
      kafka,
      logger,
      describer,
    });
    expect(truncated.tombstoned).toBe(0);
    expect(truncated.removalRefused).toHaveLength(3);
    expect(
      (
        await readCatalogueState(
          kafka,
          topicName('catalogue-embeddings', ns),
          describer.modelId,
          describer.descriptorId,
        )
      ).current.size,
    ).toBe(4);
    await expect(
      syncCatalogue(local, {
        feedPath: await writeJsonFeed(dir, 'empty.json', []),
        kafka,
        logger,
        describer,
      }),
    ).rejects.toThrow(/no valid product/);
  });

  it('keeps the vectors of the previous descriptor when a new one syncs, and removes a SKU for both', async () => {
    const ns = uniqueNamespace('catalogue');
    const nsTopic = topicName('catalogue-embeddings', ns);
    await applyTopics(kafka, { namespace: ns, specs: [topicSpec('catalogue-embeddings')] });
    const local = { ...config, TOPIC_NAMESPACE: ns };
    // The same model behind another descriptor id: what a DESCRIPTOR_ID bump looks like on the topic.
    const next = Object.assign(Object.create(describer) as ImageDescriber, { descriptorId: 'next-v2' });
    await syncCatalogue(local, {
      feedPath: await writeJsonFeed(dir, 'd1.json', products),
      kafka,
      logger,
      describer,
    });
    const bumped = await syncCatalogue(local, {
      feedPath: await writeJsonFeed(dir, 'd2.json', products),
      kafka,
      logger,
      describer: next,
    });
    // Nothing reused across descriptors, everything published under the new descriptor's keys.
    expect(bumped).toMatchObject({ embedded: imageCount, reused: 0, published: 4, tombstoned: 0 });
    const old = await readCatalogueState(kafka, nsTopic, describer.modelId, describer.descriptorId);
    const fresh = await readCatalogueState(kafka, nsTopic, describer.modelId, 'next-v2');
    expect(old.current.size).toBe(4);
    expect([...old.current.values()].every((e) => e.descriptor === describer.descriptorId)).toBe(true);
    expect(fresh.current.size).toBe(4);
    expect(fresh.legacyOnly.size).toBe(0);

    // A SKU that leaves the feed is removed for every descriptor of the model.
    const removed = await syncCatalogue(local, {
      feedPath: await writeJsonFeed(dir, 'd2-less.json', products.slice(1)),
      kafka,
      logger,
      describer: next,
      force: true,
    });
    expect(removed.tombstoned).toBe(1);
    const oldAfter = await readCatalogueState(kafka, nsTopic, describer.modelId, describer.descriptorId);
    expect(oldAfter.current.has(products[0]!.sku)).toBe(false);
    expect(oldAfter.keys.has(products[0]!.sku)).toBe(false);
  });

  it('migrates a topic written with the legacy <sku>|<modelId> keys without re-embedding', async () => {
    const scratch = uniqueNamespace('catalogue');
    await applyTopics(kafka, { namespace: scratch, specs: [topicSpec('catalogue-embeddings')] });
    await syncCatalogue(
      { ...config, TOPIC_NAMESPACE: scratch },
      { feedPath: await writeJsonFeed(dir, 'm1.json', products), kafka, logger, describer },
    );
    const written = await collectUntil(
      kafka,
      topicName('catalogue-embeddings', scratch),
      (r) => r.length >= 8,
    );
    // A topic as the previous version wrote it: the legacy-key records only.
    const ns = uniqueNamespace('catalogue');
    const nsTopic = topicName('catalogue-embeddings', ns);
    await applyTopics(kafka, { namespace: ns, specs: [topicSpec('catalogue-embeddings')] });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: nsTopic,
        messages: written
          .filter((r) => !r.message.key!.toString().includes('@'))
          .map((r) => ({ key: r.message.key!.toString(), value: r.message.value })),
      });
    } finally {
      await producer.disconnect();
    }
    const before = await readCatalogueState(kafka, nsTopic, describer.modelId, describer.descriptorId);
    expect(before.legacyOnly.size).toBe(4);
    const migrated = await syncCatalogue(
      { ...config, TOPIC_NAMESPACE: ns },
      { feedPath: await writeJsonFeed(dir, 'm2.json', products), kafka, logger, describer },
    );
    expect(migrated).toMatchObject({ embedded: 0, reused: imageCount, published: 4, tombstoned: 0 });
    const after = await readCatalogueState(kafka, nsTopic, describer.modelId, describer.descriptorId);
    expect(after.legacyOnly.size).toBe(0);
    expect(after.current.size).toBe(4);
  });
});
