/**
 * `npm run bench embedder [images]`: images per second from Kafka to mentions for ~1000-px JPEGs
 * (luma catalogue photos resized to 1000 px on their long side), beside a bare loop of the same
 * decode + inference on the same bytes in the same run.
 *
 *   bare loop: the bytes in memory, the same decode + descriptor + inference done the simplest fast
 *              way the service's settings allow: the same worker-thread pool the embedder starts
 *              (EMBEDDER_WORKERS workers, one onnxruntime thread each), fed model-sized batches by
 *              as many loops as the pool works on at once (`parallelism`), no Kafka, no blob reads,
 *              no matching;
 *   embedder:  the uploads (blob references) are produced to a fresh 6-partition topic first, then the
 *              worker runs from a fresh group with its defaults; the clock runs from its first
 *              committed chunk to the last (start-up — model load, index build, group join — is
 *              reported apart), so the figure is steady-state throughput including blob reads,
 *              matching, producing mentions (acks=all) and committing offsets.
 * The last line is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CatalogueEnv } from '../../services/catalogue/config.ts';
import { syncCatalogue } from '../../services/catalogue/sync.ts';
import { loadModelPool } from '../../services/catalogue/vision-deps.ts';
import { EmbedderEnv } from '../../services/embedder/config.ts';
import { startEmbedder } from '../../services/embedder/service.ts';
import { FilesystemBlobStore } from '../../shared/blobstore/blob-store.ts';
import { loadConfig } from '../../shared/config/env.ts';
import { Upload } from '../../shared/contracts/events.ts';
import { topicName, topicSpec } from '../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../shared/kafka/client.ts';
import { encode } from '../../shared/kafka/codec.ts';
import { applyTopics } from '../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { lumaProducts, writeJsonFeed } from '../integration/catalogue/luma-feed.ts';
import { benchServers } from './lib/servers.ts';

export default async function bench(args: string[]): Promise<void> {
  const total = Number(args[0] ?? 1000);
  await benchServers();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const namespace = `bench-embedder-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'bench-embedder-'));
  const env = {
    ...process.env,
    TOPIC_NAMESPACE: namespace,
    BLOB_STORE_DIR: join(dir, 'blobs'),
    LOG_LEVEL: 'warn',
  };
  const logger = createLogger('bench-embedder', 'warn');
  const kafka = createKafka(
    { brokers: loadConfig(EmbedderEnv, env).KAFKA_BROKERS, clientId: 'bench-embedder' },
    logger,
  );
  try {
    await applyTopics(kafka, {
      namespace,
      specs: (['uploads', 'mentions', 'catalogue-embeddings', 'dead-letters'] as const).map(topicSpec),
    });
    const catalogue = lumaProducts(60, 1);
    log(`catalogue: syncing ${catalogue.length} luma products`);
    await syncCatalogue(loadConfig(CatalogueEnv, env), {
      feedPath: await writeJsonFeed(dir, 'feed.json', catalogue),
      kafka,
      logger,
    });

    // ~1000-px JPEGs, each distinct (quality varies), as phones would send them.
    const sources = lumaProducts(450, 1).map((p) => p.images[0]!.file);
    const photos: Buffer[] = [];
    for (let i = 0; i < total; i++) {
      const raw = await readFile(sources[i % sources.length]!);
      photos.push(
        await sharp(raw)
          .resize(1000, 1000, { fit: 'inside' })
          .jpeg({ quality: 82 + (Math.floor(i / sources.length) % 10) })
          .toBuffer(),
      );
    }
    const meta = await sharp(photos[0]!).metadata();
    log(
      `photos: ${total} JPEGs, e.g. ${meta.width}×${meta.height}, ${Math.round(photos.reduce((n, p) => n + p.length, 0) / total / 1024)} kB on average`,
    );

    // Bare loop: the embedder's own pool settings, every worker kept busy, nothing else.
    const config = loadConfig(EmbedderEnv, env);
    const describer = await loadModelPool(config, config.EMBEDDER_WORKERS, {
      maxPixels: config.EMBEDDER_MAX_PIXELS,
    });
    const batch = describer.manifest.maxBatch;
    await Promise.all(
      Array.from({ length: describer.parallelism }, () => describer.describe(photos.slice(0, batch))),
    ); // warm-up
    const bareStart = performance.now();
    let nextStart = 0;
    const loop = async () => {
      while (nextStart < total) {
        const start = nextStart;
        nextStart += batch;
        await describer.describe(photos.slice(start, start + batch));
      }
    };
    await Promise.all(Array.from({ length: describer.parallelism }, loop));
    const bareSeconds = (performance.now() - bareStart) / 1000;
    await describer.close();
    const bareRate = total / bareSeconds;
    log(`bare decode+inference loop (${describer.size} worker threads): ${bareRate.toFixed(1)} images/s`);

    // Through Kafka.
    const blobs = new FilesystemBlobStore(env.BLOB_STORE_DIR);
    const refs = await Promise.all(photos.map((p) => blobs.put(p)));
    const producer = await connectProducer(kafka);
    const at = Date.now();
    const uploads = refs.map((ref, i) => ({
      eventId: `bench-${i}`,
      postId: `post-${i}`,
      memberId: `member-${i % 97}`,
      images: [{ blobRef: ref }],
      caption: '',
      hashtags: [],
      location: { country: 'GB', city: 'London' },
      clientTimestamp: new Date(at - i * 1000).toISOString(),
      receivedAt: new Date(at).toISOString(),
      source: 'bench',
    }));
    for (let start = 0; start < total; start += 500) {
      await producer.send({
        topic: topicName('uploads', namespace),
        acks: -1,
        messages: uploads.slice(start, start + 500).map((u) => ({ key: u.postId, value: encode(Upload, u) })),
      });
    }
    await producer.disconnect();

    let committed = 0;
    let firstAt = 0;
    let firstCount = 0;
    let lastAt = 0;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const startedAt = performance.now();
    const embedder = await startEmbedder(loadConfig(EmbedderEnv, env), {
      kafka,
      logger,
      onCommitted: (records) => {
        if (committed === 0) {
          firstAt = performance.now();
          firstCount = records.length;
        }
        committed += records.length;
        lastAt = performance.now();
        if (committed >= total) finished();
      },
    });
    await embedder.ready();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, 600_000)))]);
    clearTimeout(timer);
    await embedder.stop();
    const startupSeconds = (firstAt - startedAt) / 1000;
    const e2eRate = (committed - firstCount) / ((lastAt - firstAt) / 1000);
    log(
      `embedder, Kafka → mentions: ${e2eRate.toFixed(1)} images/s (start-up ${startupSeconds.toFixed(1)} s excluded)`,
    );
    console.log(
      JSON.stringify({
        bench: 'embedder',
        images: total,
        committed,
        imageSide: Math.max(meta.width ?? 0, meta.height ?? 0),
        bareImagesPerSecond: round(bareRate),
        embedderImagesPerSecond: round(e2eRate),
        ratio: round(e2eRate / bareRate),
        startupSeconds: round(startupSeconds),
        targets: { imagesPerSecond: 100, ratio: 0.8 },
        cores: availableParallelism(),
        workers: describer.size,
        loadAverage: loadavg().map(round),
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
