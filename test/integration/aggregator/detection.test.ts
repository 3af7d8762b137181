/**
 * The simulator's planted trends and decoys through the real pipeline (real Kafka, both stages),
 * on a small run. Mentions are derived from the scenario's ground truth: the image model is
 * bypassed, so this measures the aggregator alone.
 */
import { describe, expect, it } from 'vitest';
import { createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { runDetection } from './pipeline.ts';
import { buildFeed, detectionScenario, loadCatalogue, scoreAlerts } from './scenario-feed.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'aggregator-detection-test' });

describe('detection on the simulator scenario', () => {
  it('alerts on the planted trends, after their onset, and never on the decoys', async () => {
    const days = 3;
    const feed = buildFeed({
      seed: 5,
      catalogue: loadCatalogue(),
      days,
      trends: detectionScenario({ days, trends: 3, baselinePerHour: 4 }),
    });
    const run = await runDetection(
      kafka,
      uniqueNamespace('aggregator-detect'),
      feed,
      { KAFKA_BROKERS: kafkaBrokers.join(','), AGGREGATOR_IDLE_PARTITION_MS: String(3_600_000) },
      150_000,
    );
    expect(run.drained).toBe(true);
    expect(run.signals).toBeGreaterThan(10_000);
    // A replay of a backlog has nothing late, as in the pure core on the same feed: attribution
    // merges its input partitions in event-time order (a partition whose batch is used up holds
    // the others back until its next batch is fetched), so signals-by-sku is in order to within
    // AGGREGATOR_ALIGN_SLACK_MS (1 min), well inside the 10 min grace.
    expect(run.lateSignals).toBe(0);
    const report = scoreAlerts(run.alerts, feed.scenario.truth);
    expect(new Set(run.alerts.map((a) => a.alertId)).size).toBe(run.alerts.length);
    expect(report.decoyAlerts).toEqual([]);
    expect(report.falseEpisodes).toEqual([]);
    expect(report.recall).toBeGreaterThanOrEqual(0.95);
    expect(report.precision).toBeGreaterThanOrEqual(0.9);
    for (const delay of report.delays) expect(delay.afterOnsetMin).toBeGreaterThan(0);
  });
});
