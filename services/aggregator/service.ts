/**
 * The aggregator as a running service: two exactly-once stages and the reference tables.
 *   attribution: mentions + interactions (co-partitioned by post) → signals-by-sku (keyed by SKU)
 *   trends:      signals-by-sku → trend-windows, reorder-alerts, late-signals
 * All logic lives in the pure modules; this file wires them to Kafka.
 */
import type { KafkaMessage } from 'kafkajs';
import {
  Interaction,
  LateSignal,
  Mention,
  PROGRESS_HEADER,
  ReorderAlert,
  Signal,
  TrendWindow,
  WatermarkProgress,
} from '../../shared/contracts/events.ts';
import { topicNames } from '../../shared/contracts/topics.ts';
import { createKafka } from '../../shared/kafka/client.ts';
import { decode, encode, headerString, PermanentError, refuseOtherSchema } from '../../shared/kafka/codec.ts';
import {
  type ConsumerHealth,
  combinedHealth,
  type InboundRecord,
  reportConsumerUp,
} from '../../shared/kafka/consumer-runner.ts';
import { deadLetterRecord } from '../../shared/kafka/dead-letter.ts';
import { requireTopics } from '../../shared/kafka/required-topics.ts';
import { createLogger, type Logger } from '../../shared/observability/logger.ts';
import { Counter, createRegistry, Gauge, type Registry } from '../../shared/observability/metrics.ts';
import { Attributor } from './attribution.ts';
import { type AggregatorConfig, attributionSettings, trendSettings } from './config.ts';
import { ReferenceTables } from './tables.ts';
import { type PartitionTask, type Produced, TransactionalStage } from './transactional-stage.ts';
import { TrendPartition } from './trends.ts';
import { SourceWatermarks, WATERMARKS_KEY } from './watermarks.ts';

/** Every topic the two stages and the reference tables read or write. */
const AGGREGATOR_TOPICS = [
  'mentions',
  'interactions',
  'catalogue-embeddings',
  'inventory',
  'signals-by-sku',
  'trend-windows',
  'reorder-alerts',
  'late-signals',
  'aggregator-attribution-changelog',
  'aggregator-trend-changelog',
  'dead-letters',
] as const;

export interface AggregatorDeps {
  logger?: Logger;
  registry?: Registry;
  /** A stage died for good (default: log it; the CLI exits so that the supervisor restarts it). */
  onFatal?: (error: Error) => void;
}

export interface RunningAggregator {
  stop(): Promise<void>;
  registry: Registry;
  /** Stream time per owned partition of the windowing stage. */
  streamTimes(): Map<number, number>;
  /** Ready while both stages' consumers and the reference tables run: /readyz. */
  health(): ConsumerHealth;
}

/** What the attribution stage keeps of an interaction that waits, to dead-letter it if it expires. */
interface WaitingRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  value: string;
}

export async function startAggregator(
  config: AggregatorConfig,
  deps: AggregatorDeps = {},
): Promise<RunningAggregator> {
  const logger = deps.logger ?? createLogger('aggregator', config.LOG_LEVEL);
  const registry = deps.registry ?? createRegistry('aggregator');
  const kafka = createKafka(
    { brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-aggregator` },
    logger,
  );
  const topics = topicNames(config.TOPIC_NAMESPACE);
  const metrics = aggregatorMetrics(registry);
  const service = 'aggregator';
  const prefix = `${config.TOPIC_NAMESPACE}.${config.AGGREGATOR_GROUP_ID}`;
  const txPrefix = `${config.TOPIC_NAMESPACE}.${config.AGGREGATOR_INSTANCE_ID}`;
  await requireTopics(kafka, service, config.TOPIC_NAMESPACE, AGGREGATOR_TOPICS);

  const tables = new ReferenceTables(
    kafka,
    { catalogue: topics['catalogue-embeddings'], inventory: topics.inventory },
    logger,
    prefix,
  );
  await tables.start();
  // Every attribution input partition is a watermark source for every signals-by-sku partition.
  const { mentions: sources, signals: signalPartitions } = await partitionCounts(kafka, {
    mentions: topics.mentions,
    signals: topics['signals-by-sku'],
  });

  const maxFutureSkewMs = config.AGGREGATOR_MAX_FUTURE_SKEW_MS;
  const waitingGauge = new Map<number, number>();
  const attribution = new TransactionalStage({
    kafka,
    service,
    logger,
    groupId: `${prefix}.attribution`,
    transactionalId: `${txPrefix}.attribution`,
    inputTopics: [topics.mentions, topics.interactions],
    changelogTopic: topics['aggregator-attribution-changelog'],
    deadLetterTopic: topics['dead-letters'],
    alignSlackMs: config.AGGREGATOR_ALIGN_SLACK_MS,
    unseenPartitionMs: config.AGGREGATOR_IDLE_PARTITION_MS,
    onFatal: deps.onFatal,
    onDeadLetter: () => metrics.deadLetters.inc({ stage: 'attribution' }),
    progress: (source, watermark) => {
      const value = encode(WatermarkProgress, {
        source,
        sources,
        watermark: Number.isFinite(watermark) ? new Date(watermark).toISOString() : null,
      });
      metrics.progress.inc(signalPartitions);
      return Array.from({ length: signalPartitions }, (_, partition) => ({
        topic: topics['signals-by-sku'],
        key: `progress.${source}`,
        value,
        partition,
        headers: { [PROGRESS_HEADER]: '1' },
      }));
    },
    createTask: (partition): PartitionTask => {
      const attributor = new Attributor<WaitingRecord>(attributionSettings(config));
      return {
        restore: (key, value) => attributor.restore(key, value),
        watermark: () => attributor.currentStreamTime,
        eventTimeOf: (record) => {
          // A record bound for the dead letters (too far ahead) must not hold its partition back.
          const time = eventTimeOf(record, topics.mentions);
          return time > Date.now() + maxFutureSkewMs ? Number.NaN : time;
        },
        takeChanges: () => {
          waitingGauge.set(partition, attributor.waiting);
          metrics.waiting.set([...waitingGauge.values()].reduce((a, b) => a + b, 0));
          return attributor.takeChanges();
        },
        process: (record) => {
          let out: ReturnType<typeof attributor.onMention>;
          refuseOtherSchema(record.topic, record.headers);
          if (record.topic === topics.mentions) {
            const mention = decode(Mention, record.value);
            refuseFutureTime(mention.eventTime, maxFutureSkewMs);
            out = attributor.onMention(mention);
          } else {
            const interaction = decode(Interaction, record.value);
            refuseFutureTime(interaction.timestamp, maxFutureSkewMs);
            out = attributor.onInteraction(interaction, waitingRecord(record));
          }
          metrics.unattributed.inc(out.unattributed);
          metrics.duplicates.inc(out.duplicates);
          metrics.signals.inc({ stage: 'attribution' }, out.signals.length);
          const produced: Produced[] = out.signals.map((signal) => ({
            topic: topics['signals-by-sku'],
            key: signal.sku,
            value: encode(Signal, signal),
          }));
          for (const { pending, reason } of out.expired) {
            metrics.expired.inc({ reason });
            const dead = deadLetterRecord(
              {
                topic: pending.ref.topic,
                partition: pending.ref.partition,
                message: originalMessage(pending.ref),
              },
              new PermanentError(`interaction not attributed: ${reason}`),
              service,
              1,
            );
            produced.push({
              topic: topics['dead-letters'],
              key: dead.key ?? null,
              value: dead.value ?? null,
              headers: dead.headers,
            });
          }
          return produced;
        },
      };
    },
  });

  const settings = trendSettings(config);
  const trends = new TransactionalStage({
    kafka,
    service,
    logger,
    groupId: `${prefix}.trends`,
    transactionalId: `${txPrefix}.trends`,
    inputTopics: [topics['signals-by-sku']],
    changelogTopic: topics['aggregator-trend-changelog'],
    deadLetterTopic: topics['dead-letters'],
    idlePartitionMs: config.AGGREGATOR_IDLE_PARTITION_MS,
    onFatal: deps.onFatal,
    onDeadLetter: () => metrics.deadLetters.inc({ stage: 'trends' }),
    createTask: (): PartitionTask => {
      const partition = new TrendPartition(settings, tables);
      const watermarks = new SourceWatermarks(config.AGGREGATOR_IDLE_PARTITION_MS, Date.now());
      const collect = (): Produced[] => {
        const out = partition.drain();
        metrics.late.inc(out.late.length);
        metrics.partiallyLate.inc(out.partiallyLate);
        metrics.reposts.inc(out.reposts);
        metrics.windows.inc(out.windows.length);
        for (const alert of out.alerts)
          metrics.alerts.inc({ status: alert.status, priority: alert.priority });
        return [
          ...out.windows.map((w) => ({
            topic: topics['trend-windows'],
            key: w.sku,
            value: encode(TrendWindow, w),
          })),
          ...out.alerts.map((a) => ({
            topic: topics['reorder-alerts'],
            key: a.sku,
            value: encode(ReorderAlert, a),
          })),
          ...out.late.map((l) => ({
            topic: topics['late-signals'],
            key: l.sku,
            value: encode(LateSignal, l),
          })),
        ];
      };
      return {
        restore: (key, value) =>
          key === WATERMARKS_KEY ? watermarks.restore(value, Date.now()) : partition.restore(key, value),
        takeChanges: () => [...partition.takeChanges(), ...watermarks.takeChanges()],
        process: (record) => {
          if (headerString(record.headers, PROGRESS_HEADER) !== undefined) {
            const progress = decode(WatermarkProgress, record.value);
            watermarks.observe(
              {
                ...progress,
                watermark:
                  progress.watermark === null ? Number.NEGATIVE_INFINITY : Date.parse(progress.watermark),
              },
              Date.now(),
            );
            partition.advanceTo(watermarks.watermark());
            return collect();
          }
          const signal = decode(Signal, record.value);
          refuseFutureTime(signal.eventTime, maxFutureSkewMs);
          partition.add(signal, !watermarks.engaged);
          metrics.signals.inc({ stage: 'trends' });
          return collect();
        },
        streamTime: () => partition.currentStreamTime,
        advanceTo: (time) => {
          partition.advanceTo(time);
          return collect();
        },
        idleStreamTime: (now, lagging) => watermarks.watermarkLeavingOutSilent(now, lagging),
      };
    },
  });

  await attribution.start();
  await trends.start();
  reportConsumerUp(registry, `${prefix}.attribution`, () => attribution.health().ready);
  reportConsumerUp(registry, `${prefix}.trends`, () => trends.health().ready);
  reportConsumerUp(registry, 'reference-tables', () => tables.health().ready);
  logger.info({ namespace: config.TOPIC_NAMESPACE }, 'aggregator started');
  return {
    registry,
    streamTimes: () => trends.streamTimes(),
    health: () =>
      combinedHealth([
        ['attribution', attribution.health()],
        ['trends', trends.health()],
        ['reference tables', tables.health()],
      ]),
    stop: async () => {
      await attribution.stop();
      await trends.stop();
      await tables.stop();
      logger.info('aggregator stopped');
    },
  };
}

/** Partitions of each topic, in one admin session; a topic without any is a setup error. */
async function partitionCounts<K extends string>(
  kafka: ReturnType<typeof createKafka>,
  topicsByKey: Record<K, string>,
): Promise<Record<K, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: Object.values<string>(topicsByKey) });
    const counts = {} as Record<K, number>;
    for (const key of Object.keys(topicsByKey) as K[]) {
      const name = topicsByKey[key];
      const count = metadata.topics.find((t) => t.name === name)?.partitions.length ?? 0;
      if (count === 0) throw new Error(`topic ${name} has no partitions (run \`trend-radar topics apply\`)`);
      counts[key] = count;
    }
    return counts;
  } finally {
    await admin.disconnect();
  }
}

/**
 * One record dated far ahead (a bad clock, a producer that bypassed ingest) would move stream time
 * there and make every later record late: it goes to the dead letters before it moves anything.
 */
function refuseFutureTime(eventTime: string, maxSkewMs: number): void {
  if (Date.parse(eventTime) > Date.now() + maxSkewMs)
    throw new PermanentError(`event time ${eventTime} is more than ${maxSkewMs} ms ahead of the clock`);
}

/** Event time of a mention or interaction without full validation (that happens when processed). */
function eventTimeOf(record: InboundRecord, mentionsTopic: string): number {
  try {
    const value = JSON.parse(record.value?.toString('utf8') ?? 'null') as {
      eventTime?: string;
      timestamp?: string;
    };
    return Date.parse((record.topic === mentionsTopic ? value?.eventTime : value?.timestamp) ?? '');
  } catch {
    return Number.NaN;
  }
}

function waitingRecord(record: InboundRecord): WaitingRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: String(record.timestamp),
    key: record.key?.toString() ?? null,
    value: record.value?.toString('base64') ?? '',
  };
}

function originalMessage(ref: WaitingRecord): KafkaMessage {
  return {
    key: ref.key === null ? null : Buffer.from(ref.key),
    value: Buffer.from(ref.value, 'base64'),
    offset: ref.offset,
    timestamp: ref.timestamp,
    attributes: 0,
    headers: {},
    size: 0,
  } as unknown as KafkaMessage;
}

function aggregatorMetrics(registry: Registry) {
  const registers = [registry];
  return {
    signals: new Counter({
      name: 'trendradar_aggregator_signals_total',
      help: 'Signals produced by attribution / consumed by the windowing stage.',
      labelNames: ['stage'],
      registers,
    }),
    late: new Counter({
      name: 'trendradar_aggregator_late_signals_total',
      help: 'Signals past every window of theirs (grace included): sent to the late-signals topic.',
      registers,
    }),
    partiallyLate: new Counter({
      name: 'trendradar_aggregator_partially_late_signals_total',
      help: 'Too-late signals still counted in their open daily window.',
      registers,
    }),
    reposts: new Counter({
      name: 'trendradar_aggregator_reposts_total',
      help: 'Uploads of a photo the SKU already had (same bytes or URL), counted as shares of the first post.',
      registers,
    }),
    windows: new Counter({
      name: 'trendradar_aggregator_windows_total',
      help: 'Final window results emitted to trend-windows.',
      registers,
    }),
    alerts: new Counter({
      name: 'trendradar_aggregator_alerts_total',
      help: 'Reorder alerts emitted, by status and priority.',
      labelNames: ['status', 'priority'],
      registers,
    }),
    expired: new Counter({
      name: 'trendradar_aggregator_expired_interactions_total',
      help: 'Interactions that waited for their mention in vain: kept on the dead-letter topic.',
      labelNames: ['reason'],
      registers,
    }),
    duplicates: new Counter({
      name: 'trendradar_aggregator_duplicate_interactions_total',
      help: 'Re-deliveries of an interaction already taken (same event id), dropped.',
      registers,
    }),
    unattributed: new Counter({
      name: 'trendradar_aggregator_unattributed_interactions_total',
      help: 'Interactions on posts whose photos matched no catalogue product.',
      registers,
    }),
    deadLetters: new Counter({
      name: 'trendradar_aggregator_dead_letters_total',
      help: 'Records that broke their contract, sent to the dead-letter topic.',
      labelNames: ['stage'],
      registers,
    }),
    progress: new Counter({
      name: 'trendradar_aggregator_progress_records_total',
      help: 'Watermark progress records written to signals-by-sku (one per partition per announcement).',
      registers,
    }),
    waiting: new Gauge({
      name: 'trendradar_aggregator_waiting_interactions',
      help: 'Interactions waiting for their post’s mention.',
      registers,
    }),
  };
}
