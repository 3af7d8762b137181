/**
 * trendradar_embedder_images_total adds up to the images processed, through the real service and
 * broker: an image whose blob never appears is retried with its upload EMBEDDER_MAX_ATTEMPTS times
 * and counted once, `unusable`, when it is dead-lettered; the good images of a retried upload are
 * counted once too. A stand-in describer (no model) keeps the test light; the blob store is real.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbedderEnv } from '../../../services/embedder/config.ts';
import { type Embedder, startEmbedder } from '../../../services/embedder/service.ts';
import { FilesystemBlobStore } from '../../../shared/blobstore/blob-store.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { Upload } from '../../../shared/contracts/events.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, headerText } from '../../support/kafka.ts';
import { emptyRefusingDescriber } from '../../unit/embedder/fixtures.ts';
import { upload } from './fixtures.ts';

const describer = emptyRefusingDescriber(4, { modelId: 'stub-model', descriptorId: 'stub-descriptor' });

describe('embedder image counts against the real broker', () => {
  const namespace = uniqueNamespace('embedder-counts');
  const logger = createLogger('embedder-counts-test', 'silent');
  let kafka: Kafka;
  let producer: Producer;
  let embedder: Embedder;
  let dir: string;
  let blobs: FilesystemBlobStore;

  beforeAll(async () => {
    const { kafkaBrokers } = integrationEnv();
    dir = await mkdtemp(join(tmpdir(), 'embedder-counts-'));
    kafka = createKafka({ brokers: kafkaBrokers, clientId: 'embedder-counts-test' });
    await applyTopics(kafka, {
      namespace,
      specs: (['uploads', 'mentions', 'catalogue-embeddings', 'dead-letters'] as const).map(topicSpec),
    });
    producer = await connectProducer(kafka);
    const env = {
      KAFKA_BROKERS: kafkaBrokers.join(','),
      TOPIC_NAMESPACE: namespace,
      BLOB_STORE_DIR: join(dir, 'blobs'),
      LOG_LEVEL: 'silent',
      EMBEDDER_MAX_ATTEMPTS: '4',
      EMBEDDER_INDEX_REBUILD_DELAY_MS: '200',
    };
    blobs = new FilesystemBlobStore(env.BLOB_STORE_DIR);
    embedder = await startEmbedder(loadConfig(EmbedderEnv, env), { kafka, logger, describer });
    await embedder.ready();
  });

  afterAll(async () => {
    await embedder?.stop();
    await producer?.disconnect();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const imagesTotal = async () => {
    const metric = await embedder.registry.getSingleMetric('trendradar_embedder_images_total')!.get();
    return Object.fromEntries(metric.values.map((v) => [String(v.labels.result), v.value]));
  };

  it('counts each image once, on its final outcome; a never-found blob is unusable once', async () => {
    const good = { blobRef: await blobs.put(Buffer.from('a photo')) };
    const broken = { blobRef: await blobs.put(Buffer.alloc(0)) };
    const gone = { blobRef: `sha256:${'e'.repeat(64)}` };
    const uploads = [
      upload('counts-gone', [gone]),
      upload('counts-partial', [good, gone]),
      upload('counts-fine', [good, good]),
      upload('counts-broken', [broken]),
    ];
    await producer.send({
      topic: topicName('uploads', namespace),
      acks: -1,
      messages: uploads.map((u) => ({
        key: u.postId,
        value: encode(Upload, u),
        timestamp: String(Date.parse(u.clientTimestamp)),
      })),
    });

    // gone (whole upload), partial's missing image, broken (whole upload).
    const dead = await collectUntil(kafka, topicName('dead-letters', namespace), (r) => r.length >= 3);
    const mentions = await collectUntil(kafka, topicName('mentions', namespace), (r) => r.length >= 3);
    expect(dead).toHaveLength(3);
    expect(mentions).toHaveLength(3);
    const gone0 = dead.find((r) => r.message.key?.toString() === 'post-counts-gone')!;
    expect(headerText(gone0.message, 'dlq.attempts')).toBe('4');
    expect(headerText(gone0.message, 'dlq.error.class')).toBe('BlobNotFoundError');

    // The counter is updated before the outputs are produced: final by now.
    const totals = await imagesTotal();
    expect(totals).toEqual({ 'no-match': 3, unusable: 3 });
    const images = uploads.reduce((n, u) => n + u.images.length, 0);
    expect(Object.values(totals).reduce((a, b) => a + b, 0)).toBe(images);
    // The retries themselves: per upload, in the runner's counter (gone and partial, 3 each).
    const retries = await embedder.registry.getSingleMetric('trendradar_consumer_retries_total')!.get();
    expect(retries.values.reduce((n, v) => n + v.value, 0)).toBe(6);
  });
});
