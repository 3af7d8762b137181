/**
 * The main job: on a fresh clone, bring up the local stack, apply topics and indices, sync a
 * catalogue, start every service in this process, play a simulated week of community activity
 * with a planted micro-trend and decoys, print the alerts as they fire, and end with a summary.
 * Each run uses its own topic namespace and index prefix, so runs never see each other's data.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Producer } from 'kafkajs';
import { BaseEnv, loadConfig, serversFromEnv } from '../../shared/config/env.ts';
import { type Mention, Mention as MentionSchema, type ReorderAlert } from '../../shared/contracts/events.ts';
import { topicName } from '../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../shared/kafka/client.ts';
import { decode } from '../../shared/kafka/codec.ts';
import { applyTopics } from '../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../shared/observability/logger.ts';
import { LocalStack, stackOptionsFromEnv } from '../../shared/stack/local-stack.ts';
import { type AlertFeed, followAlerts, formatAlert } from './alert-feed.ts';
import { collectTopic } from './collect.ts';
import { type DemoVerdict, evaluateDemo } from './evaluate.ts';
import { waitForDrain } from './lag.ts';
import { type DemoServices, startDemoServices } from './services.ts';
import { DemoSupervisor } from './supervisor.ts';

export interface DemoOptions {
  /** A catalogue feed folder (luma format); default: the synthetic catalogue, rendered once. */
  catalogueDir?: string;
  days: number;
  uploadsPerDay: number;
  members: number;
  seed: number;
  /** Uploads per hour of the planted product before its surge. */
  trendBaselinePerHour: number;
  /** Keep the inbox and services running after the summary until Ctrl-C. */
  keepRunning: boolean;
}

export interface DemoReport {
  namespace: string;
  verdict: DemoVerdict;
  alerts: ReorderAlert[];
  uploads: number;
  interactions: number;
  mentions: number;
  seconds: number;
}

const print = (line = '') => process.stdout.write(`${line}\n`);

/** Longest wait for the services to stop after one failed for good. */
const STOP_AFTER_FAILURE_MS = 30_000;

/** What runs besides the services, stopped with them when one fails. */
interface Running {
  feed?: AlertFeed;
  producer?: Producer;
  bar?: { stop(): void };
}

/**
 * Runs the demo. Every service runs in this process: when one fails for good (a consumer kafkajs
 * will not restart, a stage or model that cannot go on), the demo says which, stops the others
 * (the local Kafka and Elasticsearch stay up, as after any run) and rejects with DemoServiceFailed,
 * which the CLI prints before exiting 1, as a standalone service would.
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const started = Date.now();
  const runId = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const namespace = `demo-${runId}-${randomBytes(2).toString('hex')}`;
  const workDir = resolve('.trend-radar', 'demo', namespace);
  await mkdir(join(workDir, 'logs'), { recursive: true });
  const supervisor = new DemoSupervisor(join(workDir, 'logs'));
  const running: Running = {};
  try {
    return await playDemo(options, { started, namespace, workDir, supervisor, running });
  } catch (error) {
    const failure = supervisor.failure;
    if (!failure) throw error;
    running.bar?.stop();
    print(
      `\n  ✘ ${failure.service ? `the ${failure.service}` : 'a service'} failed for good: stopping the services ` +
        '(the local Kafka and Elasticsearch stay up)…',
    );
    // Bounded, like a standalone service's stop after a failure: the CLI exits 1 after it anyway.
    const stopped = (async () => {
      await running.producer?.disconnect().catch(() => {});
      await running.feed?.stop().catch(() => {});
      await supervisor.stopAll();
      return true;
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolveLate) => {
      timer = setTimeout(() => resolveLate(false), STOP_AFTER_FAILURE_MS).unref();
    });
    if (!(await Promise.race([stopped, late])))
      print(`      (not all stopped after ${STOP_AFTER_FAILURE_MS / 1000} s; exiting anyway)`);
    clearTimeout(timer);
    throw failure;
  } finally {
    supervisor.dispose();
  }
}

async function playDemo(
  options: DemoOptions,
  run: { started: number; namespace: string; workDir: string; supervisor: DemoSupervisor; running: Running },
): Promise<DemoReport> {
  const { started, namespace, workDir, supervisor, running } = run;
  let stepNumber = 0;
  // Each step ends early when a service fails for good meanwhile.
  const step = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    print(`[${++stepNumber}] ${label}…`);
    const result = await supervisor.guard(work());
    print(`      done in ${((Date.now() - at) / 1000).toFixed(1)} s`);
    return result;
  };

  // 1. Servers: the ones in the environment, or the local stack.
  const external = serversFromEnv();
  const stackOptions = stackOptionsFromEnv(process.env, (line) => print(`      ${line}`));
  const stack = new LocalStack(stackOptions);
  await step('Kafka and Elasticsearch', async () => {
    if (!external) await stack.up();
  });
  const env = {
    ...process.env,
    KAFKA_BROKERS: external ? external.kafkaBrokers.join(',') : stack.kafkaBrokers,
    ELASTICSEARCH_URL: external ? external.elasticsearchUrl : stack.elasticsearchUrl,
    TOPIC_NAMESPACE: namespace,
    ES_INDEX_PREFIX: namespace,
    BLOB_STORE_DIR: join(workDir, 'blobs'),
    // Match thresholds are per catalogue and photo population. On the synthetic catalogue's phone
    // photos 0.52 with no margin decides 129 of 200 photos, 107 of them right (docs/matching.md);
    // the margin is pinned so the figure holds beside the defaults (0.5, 0.02).
    EMBEDDER_MATCH_THRESHOLD:
      process.env.EMBEDDER_MATCH_THRESHOLD ?? (options.catalogueDir ? undefined : '0.52'),
    EMBEDDER_MATCH_MARGIN: process.env.EMBEDDER_MATCH_MARGIN ?? (options.catalogueDir ? undefined : '0'),
  };
  const base = loadConfig(BaseEnv, env);
  const kafka = createKafka({ brokers: base.KAFKA_BROKERS, clientId: 'trend-radar-demo' });
  const logFor = (service: string) => createLogger(service, 'info', join(workDir, 'logs', `${service}.log`));

  // 2. Topics and indices.
  await step(`Topics and indices (namespace ${namespace})`, async () => {
    await applyTopics(kafka, { namespace });
    const { applyElasticsearch } = await import('../indexer/service.ts');
    await applyElasticsearch({ ...base, ES_RETENTION_DAYS: 400 });
  });

  // 3–5. Catalogue, model, services.
  const catalogueDir = options.catalogueDir ?? join(stackOptions.home, 'demo', 'synthetic-catalogue');
  if (!options.catalogueDir) {
    const { ensureCatalogue } = await import('../simulator/catalogue-files.ts');
    await step('Synthetic catalogue', () =>
      ensureCatalogue(catalogueDir, true, (line) => print(`      ${line}`)),
    );
  }
  const services: DemoServices = await startDemoServices({
    env,
    catalogueDir,
    workDir,
    logFor,
    step,
    print,
    supervisor,
  });

  const alertsTopic = topicName('reorder-alerts', namespace);
  const feed = await followAlerts(kafka, alertsTopic, `${namespace}.demo-feed`, (alert) =>
    print(`  ALERT ${formatAlert(alert)}`),
  );
  running.feed = feed;

  // 6. A simulated week through the ingest API.
  const { runSimulation } = await import('../simulator/simulate.ts');
  const { default: progress } = await import('cli-progress');
  const producer = await connectProducer(kafka);
  running.producer = producer;
  const bar = new progress.SingleBar(
    {
      format: '      [{bar}] {percentage}% | {value}/{total} events | {uploads} photos | {simulated}',
      hideCursor: true,
      // Without a terminal (CI, a log file) print the bar as a line every 10 s instead of nothing.
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      stream: process.stdout,
    },
    progress.Presets.shades_classic,
  );
  running.bar = bar;
  const simulation = await step(`A simulated week of community activity (${options.days} days)`, async () => {
    let barStarted = false;
    const result = await runSimulation({
      catalogueDir,
      scenario: {
        seed: options.seed,
        days: options.days,
        members: options.members,
        uploadsPerDay: options.uploadsPerDay,
        // The red "Wild Thing" shoe (the scenario's default trend SKU): a product with a steady
        // following that surges ×8 within hours in two countries.
        trends: [{ baselinePerHour: options.trendBaselinePerHour, growth: 8 }],
      },
      target: { kind: 'http', url: services.ingestUrl, apiKey: services.ingestApiKey },
      inventory: { kafka, namespace, producer },
      truthFile: join(workDir, 'ground-truth.json'),
      onProgress: (p) => {
        const payload = { uploads: p.uploads, simulated: p.simulatedTime.slice(0, 16).replace('T', ' ') };
        if (!barStarted) {
          bar.start(p.total, p.sent, payload);
          barStarted = true;
        } else bar.update(p.sent, payload);
      },
    });
    bar.stop();
    return result;
  });
  await producer.disconnect();

  // 7. Let the pipeline finish what was sent.
  await step('Waiting for the pipeline to catch up', async () => {
    const drained = await waitForDrain(kafka, services.consumerGroups, {
      timeoutMs: 5 * 60_000,
      tolerance: services.transactionalPartitions,
      onPoll: (lag) => process.stdout.write(`\r      records still to process: ${lag}      `),
    });
    print();
    if (!drained) print('      (still behind after 5 minutes; the summary shows what was processed so far)');
  });

  // 8. Verdict and summary.
  const mentions = await step('Summary', async () =>
    (await collectTopic(kafka, topicName('mentions', namespace))).map(
      (m) => decode(MentionSchema, m) as Mention,
    ),
  );
  await feed.stop();
  const verdict = evaluateDemo(simulation.truth, feed.alerts, mentions);
  printSummary({ namespace, workDir, verdict, alerts: feed.alerts, simulation, mentions, services, base });
  const report: DemoReport = {
    namespace,
    verdict,
    alerts: feed.alerts,
    uploads: simulation.uploads,
    interactions: simulation.interactions,
    mentions: mentions.length,
    seconds: (Date.now() - started) / 1000,
  };
  print(`\nThe demo took ${(report.seconds / 60).toFixed(1)} minutes.`);

  if (options.keepRunning) {
    print(`The services keep running; open ${services.inboxUrl}?buyer=all-buyer — Ctrl-C to stop them.`);
    await supervisor.guard(new Promise<void>((resolveWait) => process.once('SIGINT', () => resolveWait())));
  }
  await services.stop();
  return report;
}

function printSummary(args: {
  namespace: string;
  workDir: string;
  verdict: DemoVerdict;
  alerts: ReorderAlert[];
  simulation: { uploads: number; interactions: number; rejected: number };
  mentions: Mention[];
  services: DemoServices;
  base: BaseEnv;
}): void {
  const { verdict, alerts, simulation, mentions, services, base, namespace, workDir } = args;
  const matched = mentions.filter((m) => m.kind === 'mention').length;
  const photos = verdict.photos;
  print('\n──────────────── Trend Radar demo: summary ────────────────');
  print(
    `events sent      ${simulation.uploads} uploads, ${simulation.interactions} interactions (${simulation.rejected} rejected by ingest)`,
  );
  print(
    `photos           ${photos.total}: ${photos.matchedCorrectly} matched to the right SKU, ${photos.matchedWrongly} to another, ${photos.noMatch} no-match`,
  );
  print(`mention records  ${mentions.length} (${matched} SKU mentions)`);
  print(`alerts           ${alerts.length} (${new Set(alerts.map((a) => a.sku)).size} SKUs)`);
  for (const trend of verdict.trends) {
    print(
      trend.alertedAt
        ? `  ✔ planted trend ${trend.sku}: alerted at ${trend.alertedAt} (${trend.delayHours!.toFixed(1)} h after onset ${trend.onset})`
        : `  ✘ planted trend ${trend.sku}: NOT alerted (onset ${trend.onset})`,
    );
  }
  for (const decoy of verdict.decoys) {
    print(`  ${decoy.alerted ? '✘ decoy ALERTED' : '✔ decoy quiet  '} ${decoy.kind}: ${decoy.sku}`);
  }
  if (verdict.otherAlertedSkus.length > 0)
    print(`  other SKUs alerted: ${verdict.otherAlertedSkus.join(', ')}`);
  print('\nwhere to look');
  print(`  buyer inbox      ${services.inboxUrl}?buyer=all-buyer (while the services run)`);
  print(
    `  Elasticsearch    ${base.ELASTICSEARCH_URL}  indices ${namespace}-*  e.g. curl '${base.ELASTICSEARCH_URL}/${namespace}-reorder-alerts/_search?pretty'`,
  );
  print(
    `  Kafka            ${base.KAFKA_BROKERS.join(',')}  topics ${namespace}.*  e.g. kcat -b ${base.KAFKA_BROKERS[0]} -L`,
  );
  print(
    `  Kibana           ES_INDEX_PREFIX=${namespace} npx trend-radar kibana import --url http://localhost:5601`,
  );
  print(`  service logs     ${join(workDir, 'logs')}`);
  print(`  ground truth     ${join(workDir, 'ground-truth.json')}`);
}
