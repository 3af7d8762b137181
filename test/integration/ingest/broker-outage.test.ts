/**
 * Ingest while its broker is away (a real broker, made unreachable for this client only: the shared
 * broker keeps serving everyone else). A request gets 503 `broker-unavailable` with Retry-After at
 * its produce deadline instead of waiting out kafkajs' retries (a minute or more), the next ones
 * get it at once, and stop() ends within the shutdown grace period.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, mintApiKey } from '../../../services/ingest/api-keys.ts';
import { IngestEnv } from '../../../services/ingest/config.ts';
import { type IngestService, startIngest } from '../../../services/ingest/service.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const namespace = uniqueNamespace('ingest-outage');
const logger = createLogger('ingest-outage-test', 'silent');
const key = mintApiKey('phone-app');
const apiKeys = new ApiKeyStore([key.entry]);

/** A port where nothing listens: connections to it are refused, as to a broker that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A kafkajs client of the real broker (with the settings of shared/kafka/client.ts) whose broker
 * can go away: down() resets its open connections and sends every new one to a closed port, up()
 * lets them through again.
 */
async function brokerThatCanGoAway() {
  const refused = await closedPort();
  const open = new Set<Socket>();
  let away = false;
  const kafka = new Kafka({
    clientId: 'ingest-outage-test',
    brokers: kafkaBrokers,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
    logLevel: logLevel.NOTHING,
    socketFactory: ({ host, port, onConnect }) => {
      const socket = away
        ? connect({ host: '127.0.0.1', port: refused }, onConnect)
        : connect({ host, port }, onConnect);
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      return socket;
    },
  });
  return {
    kafka,
    down() {
      away = true;
      for (const socket of open)
        socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    },
    up() {
      away = false;
    },
  };
}

let blobDir: string;
const services: IngestService[] = [];

function configFor(overrides: Record<string, string>) {
  return loadConfig(IngestEnv, {
    KAFKA_BROKERS: kafkaBrokers.join(','),
    TOPIC_NAMESPACE: namespace,
    BLOB_STORE_DIR: blobDir,
    INGEST_PORT: '0',
    ...overrides,
  });
}

const interaction = (eventId: string) => ({
  eventId,
  type: 'like',
  postId: 'post-outage',
  memberId: 'member-1',
  timestamp: new Date(Date.now() - 60_000).toISOString(),
});

const post = (service: IngestService, items: unknown[]) =>
  fetch(`${service.url}/v1/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}` },
    body: JSON.stringify(items),
  });

/** The status, the Retry-After and the body of a request, and how long its answer took. */
async function timed(service: IngestService, items: unknown[]) {
  const started = performance.now();
  const response = await post(service, items);
  const body = (await response.json()) as { error?: string; reason?: string };
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body,
    ms: performance.now() - started,
  };
}

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  const admin = createKafka({ brokers: kafkaBrokers, clientId: 'ingest-outage-setup' });
  await applyTopics(admin, { namespace, specs: [topicSpec('uploads'), topicSpec('interactions')] });
  blobDir = await mkdtemp(join(tmpdir(), 'ingest-outage-blobs-'));
});

afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()));
  await rm(blobDir, { recursive: true, force: true });
});

describe('ingest while the broker is unreachable', () => {
  it('answers 503 with Retry-After at the produce deadline, then at once; produces again once the broker is back', async () => {
    const broker = await brokerThatCanGoAway();
    const service = await startIngest(configFor({ INGEST_PRODUCE_TIMEOUT_MS: '2000' }), {
      kafka: broker.kafka,
      apiKeys,
      logger,
    });
    services.push(service);
    expect((await timed(service, [interaction('outage-before')])).status).toBe(202);

    broker.down();
    // Not yet known: the request waits for its deadline (2 s), not for kafkajs' retries.
    const first = await timed(service, [interaction('outage-held')]);
    expect(first.status).toBe(503);
    expect(first.ms).toBeLessThan(2_000 + 1_500);
    expect(first.retryAfter).toBe('5');
    expect(first.body).toMatchObject({ error: 'broker-unavailable' });
    expect(first.body.reason).toMatch(/retry with the same event ids/);

    // Known unreachable (as /readyz says): the next request is answered at once, not queued.
    const readiness = await until(
      () => fetch(`${service.url}/readyz`).then((r) => r.status),
      (status) => status === 503,
      10_000,
    );
    expect(readiness).toBe(503);
    const second = await timed(service, [interaction('outage-fast')]);
    expect(second.status).toBe(503);
    expect(second.ms).toBeLessThan(500);
    expect(second.retryAfter).toBe('5');

    // Back: the client re-sends the same event id, as told, until it is accepted.
    broker.up();
    const retried = await until(
      () => timed(service, [interaction('outage-held')]),
      (answer) => answer.status === 202,
      60_000,
    );
    expect(retried.status).toBe(202);
    // At least once in the log (twice if the send that timed out reached the broker after all):
    // consumers de-duplicate by event id.
    const reader = createKafka({ brokers: kafkaBrokers, clientId: 'ingest-outage-reader' });
    const found = await collectUntil(
      reader,
      topicName('interactions', namespace),
      (records) => records.some((r) => JSON.parse(String(r.message.value)).eventId === 'outage-held'),
      30_000,
    );
    const held = found.filter((r) => JSON.parse(String(r.message.value)).eventId === 'outage-held');
    expect(held.length).toBeGreaterThanOrEqual(1);
  });

  it('stops within INGEST_SHUTDOWN_GRACE_MS with a request still waiting for the broker', async () => {
    const broker = await brokerThatCanGoAway();
    const service = await startIngest(
      configFor({ INGEST_PRODUCE_TIMEOUT_MS: '30000', INGEST_SHUTDOWN_GRACE_MS: '2000' }),
      { kafka: broker.kafka, apiKeys, logger },
    );
    expect((await timed(service, [interaction('stop-before')])).status).toBe(202);

    broker.down();
    const waiting = post(service, [interaction('stop-held')]).then(
      (response) => response.status,
      () => 'cut' as const,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = performance.now();
    await service.stop();
    expect(performance.now() - started).toBeLessThan(2_000 + 1_500);
    // The request got no 202: its client re-sends the same event id to another instance.
    expect(await waiting).not.toBe(202);
    broker.up();
  });
});
