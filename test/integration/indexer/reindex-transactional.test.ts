/**
 * `reindex` of topics written in Kafka transactions (trend-windows, reorder-alerts), on the real
 * broker and node: the last offset of each partition is a commit marker the indexer is never
 * handed as a record; its consumer runner must still commit past it so that reindex finishes, with
 * every committed record indexed and the aborted ones not. And when the offsets stop moving with
 * records left (Elasticsearch unreachable), it must fail with a clear error instead of waiting
 * forever.
 */
import { errors } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IndexerConfig, IndexerEnv } from '../../../services/indexer/config.ts';
import { reindex } from '../../../services/indexer/reindex.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { countDocs, scenarioMessages } from './harness.ts';
import { buildScenario } from './scenario.ts';

const { kafkaBrokers, elasticsearchUrl } = integrationEnv();
const namespace = uniqueNamespace('reindex-txn');
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'reindex-txn-test' });
const es = createElasticsearch(elasticsearchUrl);
const logger = createLogger('reindex-txn-test', 'silent');
const scenario = buildScenario();

function configFor(topics: string): IndexerConfig {
  return loadConfig(IndexerEnv, {
    KAFKA_BROKERS: kafkaBrokers.join(','),
    TOPIC_NAMESPACE: namespace,
    ES_INDEX_PREFIX: namespace,
    ELASTICSEARCH_URL: elasticsearchUrl,
    ES_RETENTION_JOB: 'off',
    INDEXER_TOPICS: topics,
    LOG_LEVEL: 'silent',
  });
}

function transactionalProducer(id: string) {
  return kafka.producer({
    transactionalId: `${namespace}-${id}`,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
}

beforeAll(async () => {
  await applyTopics(kafka, { namespace });
  const producer = transactionalProducer('aggregator');
  await producer.connect();
  const windows = scenarioMessages(scenario, 'windows');
  const alerts = scenarioMessages(scenario, 'alerts');
  // The windows in three transactions (like the aggregator's commits), an aborted one in between
  // holding copies under other ids, and the alerts in a transaction of their own.
  const third = Math.ceil(windows.messages.length / 3);
  for (let i = 0; i < 3; i++) {
    const transaction = await producer.transaction();
    await transaction.send({
      topic: topicName('trend-windows', namespace),
      acks: -1,
      messages: windows.messages.slice(i * third, (i + 1) * third),
    });
    await transaction.commit();
    if (i === 1) {
      const aborted = await producer.transaction();
      await aborted.send({
        topic: topicName('trend-windows', namespace),
        acks: -1,
        messages: scenario.windows.slice(0, 5).map((w) => ({
          key: w.sku,
          value: windows.messages[0]!.value!.toString().replace(w.windowId, `${w.windowId}-aborted`),
        })),
      });
      await aborted.abort();
    }
  }
  const transaction = await producer.transaction();
  await transaction.send({
    topic: topicName('reorder-alerts', namespace),
    acks: -1,
    messages: alerts.messages,
  });
  await transaction.commit();
  await producer.disconnect();
});

afterAll(async () => {
  await deleteIndices(es, namespace);
  await es.close();
});

describe('reindex of topics written in transactions', () => {
  it('finishes at the end offsets although the topic ends with commit markers', async () => {
    const progress: Array<[number, number]> = [];
    const started = Date.now();
    const report = await reindex(configFor('trend-windows,reorder-alerts'), {
      kafka,
      elasticsearch: es,
      logger,
      pollMs: 200,
      noProgressTimeoutMs: 60_000,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await countDocs(es, namespace, 'trend-windows')).toBe(scenario.windows.length);
    expect(await countDocs(es, namespace, 'reorder-alerts')).toBe(scenario.alerts.length);
    // End offsets count the markers and the aborted records too; the last report says all done.
    expect(report.records).toBeGreaterThan(scenario.windows.length + scenario.alerts.length);
    expect(progress.at(-1)).toEqual([report.records, report.records]);
  });

  it('fails with the partitions behind when the committed offsets stop moving', async () => {
    // Elasticsearch unreachable for the indexer's bulk requests only: the indexer waits for it (it
    // never gives up on an outage), so the group's offsets stay put with records left to index.
    const unreachable = new Proxy(es, {
      get(target, property, receiver) {
        if (property === 'bulk')
          return async () => {
            throw new errors.ConnectionError('connect ECONNREFUSED (test)');
          };
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const started = Date.now();
    await expect(
      reindex(configFor('trend-windows,reorder-alerts'), {
        kafka,
        elasticsearch: unreachable,
        logger,
        pollMs: 200,
        noProgressTimeoutMs: 8_000,
      }),
    ).rejects.toThrow(
      /reindex made no progress for 8 s \(0 of \d+ records; behind: .*trend-windows\.v\d+\/\d+ at \d+ of \d+/,
    );
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
