/**
 * The indexer while Elasticsearch hangs (accepts connections, never answers; the shared node is
 * never touched: a TCP proxy in front of it does the hanging), against the real broker: the indexer
 * stays in its group (it heartbeats while its bulk request waits out the client's 30 s timeout),
 * is not ready for as long as Elasticsearch does not answer, and stops at once (the request in
 * flight is aborted). Found by the operators' audit: evicted every cycle, ready again while hung.
 */
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IndexerConfig, IndexerEnv } from '../../../services/indexer/config.ts';
import { type Indexer, startIndexer } from '../../../services/indexer/service.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { Upload } from '../../../shared/contracts/events.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { countDocs, produceRaw, waitFor } from '../indexer/harness.ts';
import { buildScenario } from '../indexer/scenario.ts';

const { kafkaBrokers, elasticsearchUrl } = integrationEnv();
const namespace = uniqueNamespace('indexer-hang');
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'indexer-hang-test' });
const es = createElasticsearch(elasticsearchUrl);
const logger = createLogger('indexer-hang-test', 'silent');
const scenario = buildScenario();

function configFor(url: string): IndexerConfig {
  return loadConfig(IndexerEnv, {
    KAFKA_BROKERS: kafkaBrokers.join(','),
    TOPIC_NAMESPACE: namespace,
    ES_INDEX_PREFIX: namespace,
    ELASTICSEARCH_URL: url,
    INDEXER_TOPICS: 'uploads',
    ES_RETENTION_JOB: 'off',
    INDEXER_BACKOFF_INITIAL_MS: '100',
    INDEXER_BACKOFF_MAX_MS: '1000',
    LOG_LEVEL: 'silent',
  });
}

async function member(groupId: string): Promise<{ state: string; members: string[] }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return { state: groups[0]!.state, members: groups[0]!.members.map((m) => m.memberId) };
  } finally {
    await admin.disconnect();
  }
}

const uploads = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    ...scenario.uploads[i % scenario.uploads.length]!,
    eventId: `${prefix}-evt-${i}`,
    postId: `${prefix}-post-${i}`,
  }));

let indexer: Indexer | undefined;
let proxy: HangingProxy | undefined;

beforeAll(async () => {
  await applyTopics(kafka, { namespace });
});

afterAll(async () => {
  await indexer?.stop();
  await proxy?.close();
  await deleteIndices(es, namespace);
  await es.close();
});

describe('indexer while Elasticsearch hangs', () => {
  it('stays in its group, is not ready, and stops at once', async () => {
    proxy = new HangingProxy(new URL(elasticsearchUrl));
    const port = await proxy.open();
    indexer = await startIndexer(configFor(`http://127.0.0.1:${port}`), { kafka, logger });
    const before = uploads('before', 3);
    await produceRaw(
      kafka,
      topicName('uploads', namespace),
      before.map((p) => ({ key: p.postId, value: encode(Upload, p) })),
    );
    expect(await waitFor(async () => (await countDocs(es, namespace, 'posts')) === 3, 60_000)).toBe(true);
    expect(indexer.elasticsearchReachable()).toBe(true);
    const joined = await member(indexer.groupId);
    expect(joined.members).toHaveLength(1);

    proxy.hang();
    const during = uploads('during', 3);
    await produceRaw(
      kafka,
      topicName('uploads', namespace),
      during.map((p) => ({ key: p.postId, value: encode(Upload, p) })),
    );
    // Past the group's session timeout (30 s) and the client's request timeout (30 s): the first
    // bulk request timed out, the next one waits.
    await new Promise((resolve) => setTimeout(resolve, 42_000));
    const later = await member(indexer.groupId);
    expect(later.state).toBe('Stable');
    expect(later.members).toEqual(joined.members); // not evicted and re-joined as another member
    // Not ready again while hung: a chunk given back unanswered says nothing about Elasticsearch.
    expect(indexer.elasticsearchReachable()).toBe(false);
    const health = indexer.health();
    expect(health.ready).toBe(false);
    expect(health.reason).toMatch(/^elasticsearch:/);

    const stopping = Date.now();
    await indexer.stop();
    indexer = undefined;
    // A bulk request is in flight (up to 30 s more): it is aborted, the chunk given back.
    expect(Date.now() - stopping).toBeLessThan(8_000);
    expect(await countDocs(es, namespace, 'posts')).toBe(3);
  });
});

/** A loopback TCP proxy to Elasticsearch that forwards, then hangs: accepts connections, never answers. */
class HangingProxy {
  private server: Server | undefined;
  private hanging = false;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: URL) {}

  async open(): Promise<number> {
    const server = createServer((client) => {
      this.track(client);
      if (this.hanging) return;
      const upstream = connect(Number(this.target.port || 9200), this.target.hostname);
      this.track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** From now on nothing answers: open connections are cut, new ones wait forever. */
  hang(): void {
    this.hanging = true;
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }
}
