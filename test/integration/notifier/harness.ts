/** What the notifier integration tests share: topics, config, a record producer, an alert photo. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import sharp from 'sharp';
import { type NotifierConfig, NotifierEnv } from '../../../services/notifier/config.ts';
import { FilesystemBlobStore } from '../../../shared/blobstore/blob-store.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { ReorderAlert } from '../../../shared/contracts/events.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { connectProducer } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { withLeaderRetry } from '../../../shared/kafka/topic-follower.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';

export async function notifierConfig(
  kafka: Kafka,
  brokers: string[],
  namespace: string,
  env: Record<string, string> = {},
): Promise<NotifierConfig> {
  await applyTopicsSettled(kafka, namespace);
  return loadConfig(NotifierEnv, {
    KAFKA_BROKERS: brokers.join(','),
    TOPIC_NAMESPACE: namespace,
    BLOB_STORE_DIR: mkdtempSync(join(tmpdir(), 'notifier-blobs-')),
    NOTIFIER_PORT: '0',
    LOG_LEVEL: 'silent',
    ...env,
  });
}

/**
 * applyTopics is idempotent; on a busy broker its wait for leaders sometimes fails with
 * UNKNOWN_TOPIC_OR_PARTITION right after creating, so try again rather than fail the file.
 */
export async function applyTopicsSettled(kafka: Kafka, namespace: string): Promise<void> {
  await withLeaderRetry(() => applyTopics(kafka, { namespace }), 5);
}

export async function produceAlerts(kafka: Kafka, namespace: string, alerts: ReorderAlert[]): Promise<void> {
  const producer = await connectProducer(kafka);
  await producer.send({
    topic: topicName('reorder-alerts', namespace),
    acks: -1,
    messages: alerts.map((alert) => ({ key: alert.sku, value: encode(ReorderAlert, alert) })),
  });
  await producer.disconnect();
}

/** A street-style photo stand-in: a red pump on a pale ground, stored in the blob store. */
export async function storePhoto(blobDir: string, hue = '#c4122f', label = ''): Promise<string> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="600">
    <rect width="480" height="600" fill="#efe9e1"/>
    <rect x="0" y="420" width="480" height="180" fill="#d9d1c5"/>
    <path d="M90 360 C140 300 230 300 300 340 L390 380 C410 392 405 420 380 420 L120 420 C95 420 80 395 90 360 Z" fill="${hue}"/>
    <rect x="330" y="380" width="18" height="120" fill="${hue}"/>
    <text x="24" y="60" font-family="sans-serif" font-size="28" fill="#6b6660">${label}</text>
  </svg>`;
  const jpeg = await sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
  const ref = await new FilesystemBlobStore(blobDir).put(jpeg);
  return `blob:${ref}`;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
