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
    // Inputs are merged in event-time order across partitions. Through Kafka a small share still
    // comes too late (0 in the pure core on the same feed; an open defect, see docs/aggregator.md):
    // they are counted and kept on the late-signals topic, and must stay rare.
    // Bound with headroom: 3–4% was seen on a loaded machine, so 5% would make CI flaky.
    expect(run.lateSignals).toBeLessThanOrEqual(run.signals * 0.1);
    const report = scoreAlerts(run.alerts, feed.scenario.truth);
    expect(new Set(run.alerts.map((a) => a.alertId)).size).toBe(run.alerts.length);
    expect(report.decoyAlerts).toEqual([]);
    expect(report.falseEpisodes).toEqual([]);
    expect(report.recall).toBeGreaterThanOrEqual(0.95);
    expect(report.precision).toBeGreaterThanOrEqual(0.9);
    for (const delay of report.delays) expect(delay.afterOnsetMin).toBeGreaterThan(0);
  });
});
