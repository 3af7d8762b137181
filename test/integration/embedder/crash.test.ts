import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Consumer, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogueEnv } from '../../../services/catalogue/config.ts';
import { syncCatalogue } from '../../../services/catalogue/sync.ts';
import { FilesystemBlobStore } from '../../../shared/blobstore/blob-store.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { Mention, Upload } from '../../../shared/contracts/events.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { lumaProducts, writeJsonFeed } from '../catalogue/luma-feed.ts';
import { upload } from './fixtures.ts';

const WORKER = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const UPLOADS = 120;

describe('embedder killed with SIGKILL mid-batch', () => {
  const namespace = uniqueNamespace('embedder-crash');
  const catalogue = lumaProducts(6, 2);
  let kafka: Kafka;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let watcher: Consumer;
  let child: ChildProcess | undefined;
  const mentions: Mention[] = [];
  const deadKeys: string[] = [];

  beforeAll(async () => {
    const { kafkaBrokers } = integrationEnv();
    dir = await mkdtemp(join(tmpdir(), 'embedder-crash-'));
    kafka = createKafka({ brokers: kafkaBrokers, clientId: 'embedder-crash-test' });
    await applyTopics(kafka, {
      namespace,
      specs: (['uploads', 'mentions', 'catalogue-embeddings', 'dead-letters'] as const).map(topicSpec),
    });
    env = {
      PATH: process.env.PATH,
      KAFKA_BROKERS: kafkaBrokers.join(','),
      TOPIC_NAMESPACE: namespace,
      BLOB_STORE_DIR: join(dir, 'blobs'),
      LOG_LEVEL: 'error',
      EMBEDDER_BATCH_SIZE: '4',
    };
    await syncCatalogue(loadConfig(CatalogueEnv, env), {
      feedPath: await writeJsonFeed(dir, 'feed.json', catalogue),
      kafka,
      logger: createLogger('catalogue', 'warn'),
    });
    watcher = kafka.consumer({ groupId: `watch-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 500 });
    await watcher.connect();
    await watcher.subscribe({
      topics: [topicName('mentions', namespace), topicName('dead-letters', namespace)],
      fromBeginning: true,
    });
    await watcher.run({
      eachMessage: async ({ topic, message }) => {
        if (topic === topicName('mentions', namespace))
          mentions.push(Mention.parse(JSON.parse(message.value!.toString())));
        else deadKeys.push(message.key!.toString());
      },
    });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await watcher?.disconnect();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** One process (node --import tsx), so SIGKILL hits the worker itself, not a wrapper. */
  const startWorker = async (): Promise<ChildProcess> => {
    const proc = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
    });
    return proc;
  };
  const waitFor = async (test: () => boolean, timeoutMs: number) => {
    const until = Date.now() + timeoutMs;
    while (!test() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
  };

  it('every upload ends with a mention, a no-match record or a dead letter, none missing', async () => {
    const blobs = new FilesystemBlobStore(env.BLOB_STORE_DIR!);
    const photos = await Promise.all(
      catalogue.map((p) => readFile(p.images[0]!.file).then((b) => blobs.put(b))),
    );
    const empty = await blobs.put(Buffer.alloc(0));
    const uploads = Array.from({ length: UPLOADS }, (_, i) =>
      upload(`crash-${i}`, [{ blobRef: i % 10 === 9 ? empty : photos[i % photos.length]! }]),
    );
    const producer = await connectProducer(kafka);
    await producer.send({
      topic: topicName('uploads', namespace),
      acks: -1,
      messages: uploads.map((u) => ({
        key: u.postId,
        value: encode(Upload, u),
        timestamp: String(Date.parse(u.clientTimestamp)),
      })),
    });
    await producer.disconnect();

    child = await startWorker();
    await waitFor(() => mentions.length >= 15, 120_000);
    const beforeKill = new Set(mentions.map((m) => m.uploadEventId)).size;
    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    expect(child.signalCode).toBe('SIGKILL');
    // Killed part-way: some uploads had their results, many had not.
    expect(beforeKill).toBeGreaterThan(0);
    expect(beforeKill).toBeLessThan(UPLOADS * 0.9);

    child = await startWorker();
    const settled = () => {
      const done = new Set([
        ...mentions.map((m) => m.uploadEventId),
        ...deadKeys.map((k) => `evt-${k.slice('post-'.length)}`),
      ]);
      return uploads.every((u) => done.has(u.eventId));
    };
    await waitFor(settled, 150_000);
    child.kill('SIGTERM');
    await new Promise((resolve) => child!.once('exit', resolve));

    const mentioned = new Set(mentions.map((m) => m.uploadEventId));
    const dead = new Set(deadKeys);
    const missing = uploads
      .filter((u) => !mentioned.has(u.eventId) && !dead.has(u.postId))
      .map((u) => u.eventId);
    expect(missing).toEqual([]);
    // The empty photos went to the dead-letter topic, the others were matched to their SKU.
    for (const [i, u] of uploads.entries()) {
      if (i % 10 === 9) expect(dead.has(u.postId), u.eventId).toBe(true);
      else {
        const found = mentions.find((m) => m.uploadEventId === u.eventId)!;
        expect(found).toMatchObject({ kind: 'mention', sku: catalogue[i % catalogue.length]!.sku });
      }
    }
    // Re-processing after the crash reproduced the same ids: at most one distinct id per photo.
    const idsPerUpload = new Map<string, Set<string>>();
    for (const m of mentions)
      idsPerUpload.set(m.uploadEventId, (idsPerUpload.get(m.uploadEventId) ?? new Set()).add(m.mentionId));
    expect([...idsPerUpload.values()].every((ids) => ids.size === 1)).toBe(true);
  });
});
