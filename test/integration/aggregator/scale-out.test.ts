/**
 * Two aggregator instances (same group, own instance ids) replaying one backlog: attribution
 * partitions are split between them and each merges only its own in event-time order, so one can
 * run ahead of the other and signals-by-sku receives interleaved, out-of-order records from both.
 * The windowing stage must still see nothing late and raise exactly the alerts of one instance.
 */
import { describe, expect, it } from 'vitest';
import { type AggregatorConfig, defaultAggregatorConfig } from '../../../services/aggregator/config.ts';
import { type RunningAggregator, startAggregator } from '../../../services/aggregator/service.ts';
import { topicNames } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { committedRecords, produceFeed, readAlerts, readCommitted, waitForDrain } from './pipeline.ts';
import { DETERMINISM_SETTINGS, determinismBacklog } from './scenario-feed.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'aggregator-scale-out-test' });
const settings = DETERMINISM_SETTINGS;
const feed = determinismBacklog();

function configFor(namespace: string, instanceId: string): AggregatorConfig {
  return defaultAggregatorConfig({
    ...settings,
    TOPIC_NAMESPACE: namespace,
    KAFKA_BROKERS: kafkaBrokers.join(','),
    AGGREGATOR_INSTANCE_ID: instanceId,
  });
}

async function outputsOf(namespace: string): Promise<{ alertIds: string[]; late: number }> {
  const topics = topicNames(namespace);
  const alerts = await readAlerts(kafka, topics['reorder-alerts']);
  const late = await readCommitted(kafka, topics['late-signals'], (v) => String(v), 1_000);
  return { alertIds: alerts.map((a) => a.alertId).sort(), late: late.length };
}

describe('aggregator scale-out', () => {
  it('two instances replaying a backlog see nothing late and raise the alerts of one', async () => {
    const reference = uniqueNamespace('aggregator-one');
    await produceFeed(kafka, reference, feed);
    const single = configFor(reference, 'aggregator-0');
    const alone = await startAggregator(single, { logger: createLogger('aggregator-one', 'silent') });
    expect(await waitForDrain(kafka, reference, single.AGGREGATOR_GROUP_ID, 150_000)).toBe(true);
    await alone.stop();
    const expected = await outputsOf(reference);
    expect(expected.alertIds.length).toBeGreaterThan(0);
    expect(expected.late).toBe(0);

    // The second instance joins once the first is well into the backlog: on the rebalance it takes
    // over half the attribution partitions where the first left them, and the two drift apart.
    const namespace = uniqueNamespace('aggregator-two');
    await produceFeed(kafka, namespace, feed);
    const first = configFor(namespace, 'aggregator-a');
    const running: RunningAggregator[] = [
      await startAggregator(first, { logger: createLogger('aggregator-a', 'silent') }),
    ];
    try {
      const attributionGroup = `${namespace}.${first.AGGREGATOR_GROUP_ID}.attribution`;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const progress = await committedRecords(kafka, attributionGroup, topicNames(namespace).interactions);
        if (progress > 3_000) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      running.push(
        await startAggregator(configFor(namespace, 'aggregator-b'), {
          logger: createLogger('aggregator-b', 'silent'),
        }),
      );
      expect(await waitForDrain(kafka, namespace, first.AGGREGATOR_GROUP_ID, 150_000)).toBe(true);
    } finally {
      for (const instance of running) await instance.stop();
    }
    // The second instance really took attribution partitions over mid-replay: without that,
    // nothing would have interleaved and the test would prove nothing.
    const signalsCounter = await running[1]!.registry
      .getSingleMetric('trendradar_aggregator_signals_total')!
      .get();
    const attributedBySecond = signalsCounter.values
      .filter((v) => v.labels.stage === 'attribution')
      .reduce((sum, v) => sum + v.value, 0);
    expect(attributedBySecond).toBeGreaterThan(0);
    const actual = await outputsOf(namespace);
    expect.soft(actual.late).toBe(0);
    expect.soft(actual.alertIds).toEqual(expected.alertIds);
  });
});
