/**
 * `npm run bench detection [--days 4] [--trends 4] [--base 4] [--seed 1] [--core-only]`
 *
 * The simulator's scenario (planted trends and decoys) replayed through the real pipeline: the
 * feed is written to Kafka, the aggregator (both exactly-once stages) runs on it, its alerts are
 * read back and scored against the ground truth: precision, recall, delay from a trend's onset
 * (and from the moment its rate tripled) to the end of the window that raised the alert, in event
 * time. Mentions come from the ground truth (photo → SKU), i.e. the image model is bypassed; the
 * JSON says so. The same feed through the pure core in process is the baseline of the same run,
 * and an oracle CUSUM that knows the true rates (lib/detection-oracle.ts) gives the floor for the
 * delay that no detector learning its baselines can beat.
 */
import { randomBytes } from 'node:crypto';
import { defaultAggregatorConfig } from '../../services/aggregator/config.ts';
import { createKafka } from '../../shared/kafka/client.ts';
import { runDetection } from '../integration/aggregator/pipeline.ts';
import { detectionFeed, median, runCore, scoreAlerts } from '../integration/aggregator/scenario-feed.ts';
import { oracleDelays } from './lib/detection-oracle.ts';
import { benchServers } from './lib/servers.ts';

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? Number(args[at + 1]) : fallback;
}

export default async function detection(args: string[]): Promise<void> {
  const days = option(args, 'days', 4);
  const trends = option(args, 'trends', 4);
  const baselinePerHour = option(args, 'base', 4);
  const seed = option(args, 'seed', 1);
  const coreOnly = args.includes('--core-only');
  // Checked before the core runs (minutes): --core-only needs no broker.
  const brokers = coreOnly ? [] : (await benchServers()).kafkaBrokers;
  const settings = {
    ...(coreOnly ? {} : { KAFKA_BROKERS: brokers.join(',') }),
    AGGREGATOR_IDLE_PARTITION_MS: String(3_600_000),
  };
  const config = defaultAggregatorConfig(settings);
  const advanceMin = config.AGGREGATOR_WINDOW_ADVANCE_MS / 60_000;

  const feed = detectionFeed({ seed, days, trends, baselinePerHour });
  process.stderr.write(
    `scenario: ${days} days, ${feed.events.length} events, ${trends} trends, decoys: ${feed.scenario.truth.decoys.map((d) => d.kind).join(', ')}\n`,
  );

  const coreStarted = performance.now();
  const core = runCore(feed, config);
  const coreMs = performance.now() - coreStarted;
  const coreReport = scoreAlerts(core.alerts, feed.scenario.truth);
  process.stderr.write(`core: recall ${coreReport.recall}, precision ${coreReport.precision.toFixed(3)}\n`);

  const oracle = oracleDelays(feed, config.AGGREGATOR_WINDOW_ADVANCE_MS, feed.products.length);
  const oracleMedianMin = median(
    oracle.flatMap((o) => (o.afterTripledMin === null ? [] : [o.afterTripledMin])),
  );
  process.stderr.write(
    `oracle CUSUM (true rates known): median ${oracleMedianMin} min after the rate tripled\n`,
  );

  let kafka: Record<string, unknown> | null = null;
  if (!coreOnly) {
    const client = createKafka({ brokers, clientId: 'bench-detection' });
    const namespace = `bench-detection-${randomBytes(4).toString('hex')}`;
    const run = await runDetection(client, namespace, feed, settings, 600_000);
    const report = scoreAlerts(run.alerts, feed.scenario.truth);
    kafka = {
      namespace,
      drained: run.drained,
      processingSeconds: round(run.processingMs / 1000),
      signals: run.signals,
      lateSignals: run.lateSignals,
      alerts: run.alerts.length,
      ...report,
      medianDelayAfterTripledAdvances:
        report.medianDelayAfterTripledMin === null
          ? null
          : round(report.medianDelayAfterTripledMin / advanceMin),
    };
  }
  const result = {
    benchmark: 'detection',
    mentions:
      'derived from the simulator ground truth (image model bypassed; the embedder is not run by this benchmark)',
    scenario: {
      seed,
      days,
      events: feed.events.length,
      trends,
      trendBaselinePerHour: baselinePerHour,
      decoys: feed.scenario.truth.decoys.map((d) => d.kind),
    },
    windowAdvanceMinutes: advanceMin,
    targets: { recall: 0.95, precision: 0.9, medianDelayAfterTripledAdvances: 2, decoyAlerts: 0 },
    pipeline: kafka,
    core: {
      seconds: round(coreMs / 1000),
      signals: core.signals,
      ...coreReport,
      medianDelayAfterTripledAdvances:
        coreReport.medianDelayAfterTripledMin === null
          ? null
          : round(coreReport.medianDelayAfterTripledMin / advanceMin),
    },
    // The floor for the delay: a detector that knows the true rates (see detection-oracle.ts).
    oracle: {
      medianDelayAfterTripledAdvances: oracleMedianMin === null ? null : round(oracleMedianMin / advanceMin),
      delays: oracle,
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
