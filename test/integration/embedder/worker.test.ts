import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogueEnv } from '../../../services/catalogue/config.ts';
import { syncCatalogue } from '../../../services/catalogue/sync.ts';
import { EmbedderEnv } from '../../../services/embedder/config.ts';
import { type Embedder, startEmbedder } from '../../../services/embedder/service.ts';
import { FilesystemBlobStore } from '../../../shared/blobstore/blob-store.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { Mention, Upload } from '../../../shared/contracts/events.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { DESCRIPTOR_ID } from '../../../shared/vision/descriptor.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { type Collected, collectUntil, headerText } from '../../support/kafka.ts';
import { lumaProducts, writeJsonFeed } from '../catalogue/luma-feed.ts';
import {
  animatedGif,
  cmykJpeg,
  exifRotated,
  hugePng,
  notAnImage,
  png16,
  startHttpsServer,
  svgImage,
  type TestHttpsServer,
  truncatedJpeg,
  unrelatedPhoto,
  upload,
} from './fixtures.ts';

describe('embedding worker against the real broker', () => {
  const namespace = uniqueNamespace('embedder');
  const logger = createLogger('embedder-test', 'warn');
  const catalogue = lumaProducts(8, 2);
  let kafka: Kafka;
  let producer: Producer;
  let embedder: Embedder;
  let server: TestHttpsServer;
  let dir: string;
  let blobs: FilesystemBlobStore;
  const photo = (i: number) => readFile(catalogue[i]!.images[0]!.file);

  beforeAll(async () => {
    const { kafkaBrokers } = integrationEnv();
    dir = await mkdtemp(join(tmpdir(), 'embedder-'));
    kafka = createKafka({ brokers: kafkaBrokers, clientId: 'embedder-test' });
    await applyTopics(kafka, {
      namespace,
      specs: (['uploads', 'mentions', 'catalogue-embeddings', 'dead-letters'] as const).map(topicSpec),
    });
    producer = await connectProducer(kafka);
    server = await startHttpsServer(dir, await photo(7));
    const env = {
      KAFKA_BROKERS: kafkaBrokers.join(','),
      TOPIC_NAMESPACE: namespace,
      BLOB_STORE_DIR: join(dir, 'blobs'),
      LOG_LEVEL: 'warn',
      IMAGE_FETCH_ALLOW_HOSTS: 'localhost',
      IMAGE_FETCH_CA_FILE: server.caFile,
      IMAGE_FETCH_READ_TIMEOUT_MS: '700',
      IMAGE_FETCH_ATTEMPTS: '2',
      IMAGE_FETCH_BACKOFF_MS: '50',
      EMBEDDER_MAX_ATTEMPTS: '2',
      EMBEDDER_INDEX_REBUILD_DELAY_MS: '200',
      // Studio photos of the luma catalogue: the studio-shot policy (docs/matching.md), not the
      // member-photo defaults, so an unrelated photo comes out a no-match in this 8-SKU catalogue.
      EMBEDDER_MATCH_THRESHOLD: '0.66',
      EMBEDDER_MATCH_MARGIN: '0',
    };
    blobs = new FilesystemBlobStore(env.BLOB_STORE_DIR);
    await syncCatalogue(loadConfig(CatalogueEnv, env), {
      feedPath: await writeJsonFeed(dir, 'feed.json', catalogue),
      kafka,
      logger,
    });
    embedder = await startEmbedder(loadConfig(EmbedderEnv, env), { kafka, logger });
    await embedder.ready();
  });

  afterAll(async () => {
    await embedder?.stop();
    await producer?.disconnect();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const send = (uploads: Upload[]) =>
    producer.send({
      topic: topicName('uploads', namespace),
      acks: -1,
      messages: uploads.map((u) => ({
        key: u.postId,
        value: encode(Upload, u),
        timestamp: String(Date.parse(u.clientTimestamp)),
      })),
    });
  const blob = async (bytes: Buffer | Promise<Buffer>) => ({ blobRef: await blobs.put(await bytes) });

  it('built its index from the catalogue topic before consuming', () => {
    expect(embedder.catalogueSize()).toBe(catalogue.length);
  });

  it('matches photos (also CMYK, 16-bit, animated, EXIF-rotated, over https), rejects unknown products, dead-letters bad images', async () => {
    const original = await photo(0);
    const expected: Record<string, string> = {
      plain: catalogue[0]!.sku,
      reencoded: catalogue[1]!.sku,
      cmyk: catalogue[2]!.sku,
      png16: catalogue[3]!.sku,
      gif: catalogue[4]!.sku,
      exif: catalogue[5]!.sku,
      https: catalogue[7]!.sku,
      partial: catalogue[6]!.sku,
    };
    const uploads = [
      // Bad ones first: the worker must keep going past them.
      upload('zero', [await blob(Buffer.alloc(0))]),
      upload('truncated', [await blob(truncatedJpeg(original))]),
      upload('text', [await blob(notAnImage())]),
      upload('svg', [await blob(svgImage())]),
      upload('huge', [await blob(hugePng())]),
      upload('slow', [{ url: server.url('/slow') }]),
      upload('to-private', [{ url: server.url('/to-private') }]),
      upload('plain', [await blob(original)]),
      upload('reencoded', [
        await blob(
          (await import('sharp'))
            .default(await photo(1))
            .resize(800)
            .jpeg({ quality: 70 })
            .toBuffer(),
        ),
      ]),
      upload('cmyk', [await blob(cmykJpeg(await photo(2)))]),
      upload('png16', [await blob(png16(await photo(3)))]),
      upload('gif', [await blob(animatedGif(await photo(4)))]),
      upload('exif', [await blob(exifRotated(await photo(5)))]),
      upload('https', [{ url: server.url('/photo.jpg') }]),
      upload('unrelated', [await blob(unrelatedPhoto())]),
      upload('partial', [await blob(photo(6)), await blob(Buffer.alloc(0))]),
    ];
    await send(uploads);
    await producer.send({
      topic: topicName('uploads', namespace),
      messages: [{ key: 'post-garbage', value: 'not json' }],
    });

    const mentions = (await collectUntil(kafka, topicName('mentions', namespace), (r) => r.length >= 9)).map(
      (r) => Mention.parse(JSON.parse(r.message.value!.toString())),
    );
    const dead = await collectUntil(kafka, topicName('dead-letters', namespace), (r) => r.length >= 9);

    for (const [id, sku] of Object.entries(expected)) {
      const found = mentions.filter((m) => m.uploadEventId === `evt-${id}` && m.imageIndex === 0);
      expect(found, id).toHaveLength(1);
      expect(found[0], id).toMatchObject({
        kind: 'mention',
        sku,
        rank: 1,
        mentionId: `evt-${id}:0:${sku}`,
        modelId: 'squeezenet1.1',
      });
    }
    // Oriented upright before description, the rotated photo is its catalogue photo again.
    const exif = mentions.find((m) => m.uploadEventId === 'evt-exif')!;
    expect(exif.kind === 'mention' && exif.score).toBeGreaterThan(0.95);
    const https = mentions.find((m) => m.uploadEventId === 'evt-https')!;
    expect(https.imageUrl).toBe(server.url('/photo.jpg'));
    const plain = mentions.find((m) => m.uploadEventId === 'evt-plain')!;
    const plainUpload = uploads.find((u) => u.eventId === 'evt-plain')!;
    expect(plain).toMatchObject({
      postId: plainUpload.postId,
      memberId: plainUpload.memberId,
      location: plainUpload.location,
      eventTime: plainUpload.clientTimestamp,
      imageUrl: `blob:${plainUpload.images[0]!.blobRef}`,
    });
    expect(plain.photoEmbedding!.length).toBeGreaterThan(100);

    const unrelated = mentions.filter((m) => m.uploadEventId === 'evt-unrelated');
    expect(unrelated).toHaveLength(1);
    expect(unrelated[0]).toMatchObject({ kind: 'no-match', mentionId: 'evt-unrelated:0:none' });
    if (unrelated[0]!.kind === 'no-match') expect(unrelated[0]!.candidates.length).toBeGreaterThan(0);

    const reason = (r: Collected) => headerText(r.message, 'dlq.error') ?? '';
    const byKey = new Map(dead.map((r) => [r.message.key?.toString(), r]));
    const expectDead = (id: string, pattern: RegExp) => {
      const record = byKey.get(`post-${id}`);
      expect(record, id).toBeDefined();
      expect(reason(record!), id).toMatch(pattern);
      expect(headerText(record!.message, 'dlq.service')).toBe('embedder');
      expect(headerText(record!.message, 'dlq.original.topic')).toBe(topicName('uploads', namespace));
    };
    expectDead('zero', /image 0 .*empty image \(0 bytes\)/);
    expectDead('truncated', /image 0 .*(cannot decode|not a recognised)/);
    expectDead('text', /not a recognised image/);
    expectDead('svg', /unsupported image format: svg|not a recognised image/);
    expectDead('huge', /30000×30000 .*over the limit/);
    expectDead('slow', /gave up after 2 attempts/);
    expectDead('to-private', /refused redirect to https:\/\/127\.0\.0\.1.*private, loopback or reserved/);
    expectDead('garbage', /not JSON/);
    for (const id of ['zero', 'truncated', 'text', 'svg', 'huge', 'slow', 'to-private']) {
      expect(headerText(byKey.get(`post-${id}`)!.message, 'dlq.error.class'), id).toBe('UnusableImageError');
    }
    // The good image of the partial upload was matched (above); its empty second image is dead-lettered alone.
    const partial = byKey.get('post-partial')!;
    expect(headerText(partial.message, 'dlq.image.index')).toBe('1');
    expect(reason(partial)).toMatch(/image 1 .*empty image/);
    expect(mentions.filter((m) => m.uploadEventId === 'evt-partial')).toHaveLength(1);
  });

  it('follows the catalogue topic: a tombstoned SKU is no longer recognised, other models are ignored', async () => {
    const removed = catalogue[0]!;
    const topic = topicName('catalogue-embeddings', namespace);
    await producer.send({
      topic,
      acks: -1,
      messages: [
        // The sync tombstones the full key and the legacy one; either removes the SKU.
        { key: `${removed.sku}|squeezenet1.1@${DESCRIPTOR_ID}`, value: null },
        // Another model's record (its vectors live in another space) must not enter this index.
        { key: `${catalogue[1]!.sku}|other-model`, value: null },
      ],
    });
    const until = Date.now() + 30_000;
    while (embedder.catalogueSize() !== catalogue.length - 1 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(embedder.catalogueSize()).toBe(catalogue.length - 1);

    await send([
      upload('after-removal', [await blob(photo(0))]),
      upload('still-there', [await blob(photo(1))]),
    ]);
    const mentions = (
      await collectUntil(
        kafka,
        topicName('mentions', namespace),
        (r) =>
          r.filter((x) => /evt-(after-removal|still-there)/.test(x.message.value!.toString())).length >= 2,
      )
    )
      .map((r) => Mention.parse(JSON.parse(r.message.value!.toString())))
      .filter((m) => m.uploadEventId === 'evt-after-removal' || m.uploadEventId === 'evt-still-there');
    const after = mentions.find((m) => m.uploadEventId === 'evt-after-removal')!;
    expect(after.kind === 'mention' ? after.sku : 'none').not.toBe(removed.sku);
    expect(mentions.find((m) => m.uploadEventId === 'evt-still-there')).toMatchObject({
      kind: 'mention',
      sku: catalogue[1]!.sku,
    });
  });
});
