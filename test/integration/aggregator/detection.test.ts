/**
 * The simulator's planted trends and decoys through the real pipeline (real Kafka, both stages),
 * on a small run. Mentions are derived from the scenario's ground truth: the image model is
 * bypassed, so this measures the aggregator alone.
 */
import { describe, expect, it } from 'vitest';
import { defaultAggregatorConfig } from '../../../services/aggregator/config.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { oracleDelays } from '../../bench/lib/detection-oracle.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { runDetection } from './pipeline.ts';
import { detectionFeed, median, scoreAlerts } from './scenario-feed.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'aggregator-detection-test' });
const ADVANCE_MS = defaultAggregatorConfig().AGGREGATOR_WINDOW_ADVANCE_MS;

describe('detection on the simulator scenario', () => {
  it('alerts on the planted trends, after their onset, near the earliest possible, and never on the decoys', async () => {
    const days = 3;
    const feed = detectionFeed({ seed: 5, days, trends: 3, baselinePerHour: 4 });
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
    // Delay. The target (median ≤ 2 advances after the rate tripled) is out of reach on a run this
    // small, at 4 uploads/h, for any detector: the oracle CUSUM, which knows every true rate, needs
    // a median of 110 min on this feed (the night-time trend in one country, 350 min). So the test
    // holds the pipeline to within 30 min (6 advances) of that floor; it measured 125 against 110.
    // `npm run bench detection` reports the absolute figure at higher volumes, where it is met.
    const oracle = oracleDelays(feed, ADVANCE_MS, feed.products.length);
    const floorMin = median(oracle.flatMap((o) => (o.afterTripledMin === null ? [] : [o.afterTripledMin])));
    expect(floorMin).not.toBeNull();
    expect(report.medianDelayAfterTripledMin).not.toBeNull();
    expect(report.medianDelayAfterTripledMin!).toBeLessThanOrEqual(floorMin! + 30);
  });
});
