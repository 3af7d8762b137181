import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, mintApiKey } from '../../../services/ingest/api-keys.ts';
import { IngestEnv } from '../../../services/ingest/config.ts';
import { type IngestService, startIngest } from '../../../services/ingest/service.ts';
import { writePhotoSet } from '../../../services/simulator/photo-set.ts';
import { loadCatalogueFeed, runSimulation } from '../../../services/simulator/simulate.ts';
import { writeSyntheticCatalogue } from '../../../services/simulator/synthetic-catalogue.ts';
import { FilesystemBlobStore } from '../../../shared/blobstore/blob-store.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { Interaction, InventoryLevel, Upload } from '../../../shared/contracts/events.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'simulator-test' });
const logger = createLogger('simulator-test', 'silent');
const key = mintApiKey('simulator');
const scenario = { seed: 5, days: 0.5, members: 60, uploadsPerDay: 240, interactionsPerPost: 3 };

let work: string;
let catalogueDir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'simulator-it-'));
  catalogueDir = join(work, 'catalogue');
  await writeSyntheticCatalogue(catalogueDir, { limit: 40 });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('synthetic catalogue', () => {
  it('is a feed folder in the luma format with distinct images per SKU, including the red Wild Thing', async () => {
    const feed = JSON.parse(await readFile(join(catalogueDir, 'catalogue.json'), 'utf8')) as Array<{
      sku: string;
      style: string;
      colour: string;
      name: string;
      category: string;
      brand: string;
      price: number;
      images: Array<{ file: string; view: string }>;
    }>;
    expect(feed.length).toBe(40);
    expect(feed.map((p) => p.sku)).toEqual(
      expect.arrayContaining(['SH001-RED', 'SH001-BLACK', 'SH001-NUDE']),
    );
    expect(feed.find((p) => p.sku === 'SH001-RED')).toMatchObject({
      name: 'Wild Thing Pump',
      category: 'shoes',
      colour: 'red',
    });
    const digests = new Set<string>();
    for (const product of feed) {
      expect(product.images.map((i) => i.view)).toEqual(expect.arrayContaining(['main', 'back']));
      for (const image of product.images) {
        const meta = await sharp(join(catalogueDir, image.file)).metadata();
        expect(meta.format).toBe('jpeg');
        expect(meta.width).toBe(600);
      }
      const main = product.images.find((i) => i.view === 'main')!;
      const { data } = await sharp(join(catalogueDir, main.file))
        .resize(24, 30)
        .raw()
        .toBuffer({ resolveWithObject: true });
      digests.add(data.toString('base64'));
    }
    expect(digests.size).toBe(feed.length);
    const loaded = await loadCatalogueFeed(catalogueDir);
    expect(loaded.find((p) => p.sku === 'SH001-RED')!.views).toEqual(
      feed.find((p) => p.sku === 'SH001-RED')!.images.map((i) => i.view),
    );
  });
});

describe('runSimulation', () => {
  it('sends the scenario through the ingest API: photos as blobs, interactions in batches, inventory, ground truth', async () => {
    const namespace = uniqueNamespace('simulator');
    await applyTopics(kafka, {
      namespace,
      specs: [topicSpec('uploads'), topicSpec('interactions'), topicSpec('inventory')],
    });
    const blobDir = join(work, 'blobs-http');
    let ingest: IngestService | undefined;
    try {
      ingest = await startIngest(
        loadConfig(IngestEnv, {
          KAFKA_BROKERS: kafkaBrokers.join(','),
          TOPIC_NAMESPACE: namespace,
          BLOB_STORE_DIR: blobDir,
          INGEST_PORT: '0',
        }),
        { kafka, logger, apiKeys: new ApiKeyStore([key.entry]) },
      );
      const truthFile = join(work, 'truth-http.json');
      const progress: number[] = [];
      const result = await runSimulation({
        catalogueDir,
        scenario,
        target: { kind: 'http', url: ingest.url, apiKey: key.key },
        inventory: { kafka, namespace },
        truthFile,
        onProgress: (p) => progress.push(p.sent),
      });
      expect(result.rejected).toBe(0);
      expect(result.uploads).toBe(result.scenario.stats.uploads);
      expect(result.interactions).toBe(result.scenario.stats.interactions);
      expect(progress.at(-1)).toBe(result.scenario.events.length);
      // Every event time is in the past (ingest refuses the future), simulated, not wall-clock.
      expect(Date.parse(result.truth.end)).toBeLessThanOrEqual(Date.now());

      const [uploads, interactions, inventory] = await Promise.all([
        collectUntil(kafka, topicName('uploads', namespace), (r) => r.length >= result.uploads, 60_000),
        collectUntil(
          kafka,
          topicName('interactions', namespace),
          (r) => r.length >= result.interactions,
          60_000,
        ),
        collectUntil(kafka, topicName('inventory', namespace), (r) => r.length >= 40, 60_000),
      ]);
      expect(uploads).toHaveLength(result.uploads);
      expect(interactions).toHaveLength(result.interactions);
      expect(inventory).toHaveLength(40);
      for (const record of inventory) InventoryLevel.parse(JSON.parse(record.message.value!.toString()));
      for (const record of interactions) {
        const value = Interaction.parse(JSON.parse(record.message.value!.toString()));
        expect(value.source).toBe('simulator');
      }

      // The truth names the SKU of every produced photo, by its blob reference, and the bytes are stored.
      const truth = JSON.parse(await readFile(truthFile, 'utf8')) as typeof result.truth;
      const skuByBlob = new Map(truth.photos.map((p) => [p.blobRef, p.sku]));
      const store = new FilesystemBlobStore(blobDir);
      for (const record of uploads) {
        const upload = Upload.parse(JSON.parse(record.message.value!.toString()));
        for (const image of upload.images) {
          expect(image.blobRef).toBeDefined();
          expect(skuByBlob.has(image.blobRef!)).toBe(true);
          expect(await store.has(image.blobRef!)).toBe(true);
        }
      }
      const photo = truth.photos[0]!;
      const meta = await sharp(await store.get(photo.blobRef)).metadata();
      expect(meta.format).toBe('jpeg');
    } finally {
      await ingest?.stop();
    }
  });

  it('refuses to load straight into Kafka events older than the topics keep', async () => {
    const namespace = uniqueNamespace('simulator-old');
    await expect(
      runSimulation({
        catalogueDir,
        scenario: { ...scenario, days: 1 / 24, start: '2024-01-01T00:00:00.000Z' },
        target: {
          kind: 'kafka',
          kafka,
          namespace,
          blobStore: new FilesystemBlobStore(join(work, 'blobs-old')),
        },
      }),
    ).rejects.toThrow(/older than the uploads topic keeps records \(400 days/);
  });

  it('loads straight into Kafka with the same events, deterministically, paced by compressed time or a rate', async () => {
    const namespace = uniqueNamespace('simulator');
    await applyTopics(kafka, { namespace, specs: [topicSpec('uploads'), topicSpec('interactions')] });
    const blobDir = join(work, 'blobs-kafka');
    // Recent: the broker deletes records whose timestamp (the event time) is past the topic's retention.
    const start = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 3 * 86_400_000).toISOString();
    const small = { ...scenario, days: 2 / 24, start };
    const wallStarted = Date.now();
    // Two simulated hours at 1,800× play in about four seconds (unpaced, this run takes about half).
    const result = await runSimulation({
      catalogueDir,
      scenario: small,
      target: { kind: 'kafka', kafka, namespace, blobStore: new FilesystemBlobStore(blobDir) },
      speed: 1_800,
    });
    expect(Date.now() - wallStarted).toBeGreaterThanOrEqual(3_600);
    const uploads = await collectUntil(
      kafka,
      topicName('uploads', namespace),
      (r) => r.length >= result.uploads,
      60_000,
    );
    expect(uploads).toHaveLength(result.scenario.stats.uploads);
    const values = uploads.map((r) => Upload.parse(JSON.parse(r.message.value!.toString())));
    expect(values.every((u) => Date.parse(u.clientTimestamp) >= Date.parse(start))).toBe(true);
    expect(values.every((u) => u.images.every((i) => i.blobRef))).toBe(true);

    // Same options, same photos (byte for byte) and same truth; this time capped at a rate.
    // About four seconds of sending at this rate, twice what the photos alone take.
    const rate = Math.max(5, Math.ceil(result.scenario.events.length / 4));
    const rateStarted = Date.now();
    const again = await runSimulation({
      catalogueDir,
      scenario: small,
      target: {
        kind: 'kafka',
        kafka,
        namespace,
        blobStore: new FilesystemBlobStore(join(work, 'blobs-kafka-2')),
      },
      rate,
    });
    expect(Date.now() - rateStarted).toBeGreaterThanOrEqual(
      ((result.scenario.events.length - 1) / rate) * 900,
    );
    expect(again.truth.photos.map((p) => p.blobRef)).toEqual(result.truth.photos.map((p) => p.blobRef));
  });
});

describe('writePhotoSet', () => {
  it('writes labelled phone photos that differ from the studio shots, deterministically', async () => {
    const out = join(work, 'photoset');
    const labels = await writePhotoSet({ catalogueDir, out, count: 6, seed: 3 });
    expect(labels).toHaveLength(6);
    const skus = new Set((await loadCatalogueFeed(catalogueDir)).map((p) => p.sku));
    for (const label of labels) {
      expect(skus.has(label.sku)).toBe(true);
      const meta = await sharp(join(out, label.file)).metadata();
      expect(meta.format).toBe('jpeg');
      expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(800);
    }
    expect(JSON.parse(await readFile(join(out, 'labels.json'), 'utf8'))).toEqual(labels);
    const again = await writePhotoSet({ catalogueDir, out: join(work, 'photoset-2'), count: 6, seed: 3 });
    expect(again).toEqual(labels);
    expect(await readFile(join(work, 'photoset-2', labels[0]!.file))).toEqual(
      await readFile(join(out, labels[0]!.file)),
    );
  });
});
