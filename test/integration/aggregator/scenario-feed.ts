/**
 * Feeds the simulator's scenario to the aggregator and scores its alerts against the ground truth.
 * Mentions are derived from the ground truth (photo → SKU), i.e. the image model is bypassed: the
 * detection figures measure the aggregator, not the embedder. Shared by the detection test and
 * `npm run bench detection`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Attributor } from '../../../services/aggregator/attribution.ts';
import {
  type AggregatorConfig,
  attributionSettings,
  trendSettings,
} from '../../../services/aggregator/config.ts';
import { TrendPartition, type TrendTables } from '../../../services/aggregator/trends.ts';
import {
  type GroundTruth,
  generateScenario,
  type Scenario,
  type ScenarioOptions,
  type ScenarioProduct,
  type TrendSpec,
} from '../../../services/simulator/scenario.ts';
import type {
  CatalogueEmbedding,
  Interaction,
  InventoryLevel,
  Mention,
  ReorderAlert,
} from '../../../shared/contracts/events.ts';

/** ../shared beside the checkout (every developer and CI has it). */
export const DEFAULT_CATALOGUE = fileURLToPath(
  new URL('../../../../shared/datasets/luma-catalogue/catalogue.json', import.meta.url),
);
const HOUR = 3_600_000;

export type FeedEvent =
  | { at: number; topic: 'mentions'; key: string; value: Mention }
  | { at: number; topic: 'interactions'; key: string; value: Interaction };

export interface DetectionFeed {
  scenario: Scenario;
  products: ScenarioProduct[];
  events: FeedEvent[];
  inventory: InventoryLevel[];
  catalogue: CatalogueEmbedding[];
}

/**
 * The Luma catalogue (names and categories may be null). Its absence is an error, not a reason to
 * run on other products: the detection thresholds of the tests and benchmarks were measured on it.
 */
export function loadCatalogue(path = DEFAULT_CATALOGUE): ScenarioProduct[] {
  if (!existsSync(path))
    throw new Error(
      `the Luma catalogue is missing at ${path}: the detection feed needs ../shared/datasets/luma-catalogue beside the checkout`,
    );
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Array<{
    sku: string;
    style?: string | null;
    colour?: string | null;
    name?: string | null;
    category?: string | null;
    price?: number | null;
    images?: Array<{ view?: string }>;
  }>;
  return raw.map((p) => ({
    sku: p.sku,
    style: p.style ?? null,
    colour: p.colour ?? null,
    name: p.name ?? null,
    category: p.category ?? null,
    price: p.price ?? null,
    views: (p.images ?? []).map((i) => i.view ?? 'main'),
  }));
}

/** Several planted trends spread over the scenario, in different regions, with the default decoys. */
export function detectionScenario(options: {
  days: number;
  trends: number;
  /** Uploads per hour of each trend SKU before its onset (the simulator's default is 0.5). */
  baselinePerHour: number;
}): ScenarioOptions['trends'] {
  const regionSets = [
    ['GB', 'IT'],
    ['FR'],
    ['US'],
    ['DE', 'NL'],
    ['JP', 'KR'],
    ['ES', 'IT'],
    ['AU'],
    ['AE', 'SA'],
  ];
  const trends: TrendSpec[] = [];
  for (let i = 0; i < options.trends; i++) {
    // Onsets from 40 % to 85 % of the scenario, after the decoys' quiet start and the warm-up.
    const onsetHours = Math.round(options.days * 24 * (0.4 + (0.45 * i) / Math.max(1, options.trends - 1)));
    trends.push({
      onsetHours,
      regions: regionSets[i % regionSets.length]!,
      baselinePerHour: options.baselinePerHour,
      growth: 8,
      rampHours: 6,
    });
  }
  return trends;
}

export function buildFeed(options: ScenarioOptions): DetectionFeed {
  const scenario = generateScenario(options);
  const photosByPost = new Map<string, GroundTruth['photos']>();
  for (const photo of scenario.truth.photos) {
    const list = photosByPost.get(photo.postId) ?? [];
    list.push(photo);
    photosByPost.set(photo.postId, list);
  }
  const events: FeedEvent[] = [];
  for (const event of scenario.events) {
    if (event.kind === 'interaction') {
      events.push({
        at: event.at,
        topic: 'interactions',
        key: event.interaction.postId,
        value: event.interaction,
      });
      continue;
    }
    const upload = event.upload;
    for (const photo of photosByPost.get(upload.postId) ?? []) {
      events.push({
        at: event.at,
        topic: 'mentions',
        key: upload.postId,
        value: {
          kind: 'mention',
          mentionId: `${upload.eventId}:${photo.imageIndex}:${photo.sku}`,
          uploadEventId: upload.eventId,
          postId: upload.postId,
          memberId: upload.memberId,
          imageIndex: photo.imageIndex,
          imageUrl:
            upload.images[photo.imageIndex]?.url ?? `https://photos.netset.invalid/${upload.postId}/0.jpg`,
          location: upload.location,
          eventTime: upload.clientTimestamp,
          modelId: 'ground-truth',
          processedAt: new Date(event.at + 2_000).toISOString(),
          sku: photo.sku,
          score: 0.9,
          rank: 1,
        },
      });
    }
  }
  const updatedAt = scenario.truth.start;
  const catalogue: CatalogueEmbedding[] = options.catalogue.map((p) => ({
    sku: p.sku,
    style: p.style ?? null,
    colour: p.colour ?? null,
    name: p.name ?? null,
    category: p.category ?? null,
    brand: null,
    price: p.price ?? null,
    modelId: 'ground-truth',
    descriptor: 'none',
    dimension: 1,
    // The aggregator ignores vectors; one placeholder component satisfies the contract.
    views: [{ view: 'main', contentHash: '0'.repeat(64), vector: [0] }],
    updatedAt,
  }));
  return { scenario, products: [...options.catalogue], events, inventory: scenario.inventory, catalogue };
}

/** The simulator's feed over the luma catalogue with `detectionScenario`'s trends and decoys. */
export function detectionFeed(options: {
  seed: number;
  days: number;
  trends: number;
  baselinePerHour: number;
  members?: number;
}): DetectionFeed {
  const { seed, days, trends, baselinePerHour, members } = options;
  return buildFeed({
    seed,
    catalogue: loadCatalogue(),
    days,
    members,
    trends: detectionScenario({ days, trends, baselinePerHour }),
  });
}

/** The backlog the restart and scale-out tests replay: 2 days, 1,500 members, two planted trends. */
export function determinismBacklog(): DetectionFeed {
  return detectionFeed({ seed: 11, days: 2, members: 1_500, trends: 2, baselinePerHour: 6 });
}

/** Idle-partition handling is the one wall-clock input: determinism tests keep it out. */
export const DETERMINISM_SETTINGS = { AGGREGATOR_IDLE_PARTITION_MS: String(3_600_000), LOG_LEVEL: 'error' };

/** When the planted rate first reaches three times its base (the simulator's hour steps). */
export function tripledAt(trend: GroundTruth['trends'][number], rampHours = 6): number {
  const onset = Date.parse(trend.onset);
  const slope = (2 * Math.log(19)) / rampHours;
  const firstHour = Math.floor(onset / HOUR) * HOUR;
  for (let hour = firstHour; hour < onset + 48 * HOUR; hour += HOUR) {
    const mid = hour + HOUR / 2;
    if (mid < onset) continue;
    const level = 1 / (1 + Math.exp(-slope * ((mid - onset) / HOUR - rampHours / 2)));
    if (1 + (trend.growth - 1) * level >= 3) return Math.max(hour, onset);
  }
  return Date.parse(trend.peakBy);
}

export interface DetectionReport {
  trends: number;
  detected: number;
  recall: number;
  /** Episodes ("new" alerts) that are a planted trend after its onset, over all episodes. */
  precision: number;
  episodes: number;
  falseEpisodes: Array<{ sku: string; windowEnd: string; decoy: string | null }>;
  decoyAlerts: Array<{ kind: string; sku: string }>;
  /** Event-time minutes from the moment the rate tripled to the end of the window that raised the alert. */
  medianDelayAfterTripledMin: number | null;
  medianDelayAfterOnsetMin: number | null;
  delays: Array<{ sku: string; afterOnsetMin: number; afterTripledMin: number }>;
}

export function scoreAlerts(alerts: ReorderAlert[], truth: GroundTruth): DetectionReport {
  const unique = new Map(alerts.map((a) => [a.alertId, a]));
  const episodes = [...unique.values()].filter((a) => a.status === 'new');
  const trendBySku = new Map(truth.trends.map((t) => [t.sku, t]));
  const decoyBySku = new Map(truth.decoys.map((d) => [d.sku, d.kind]));
  const truePositives = episodes.filter((a) => {
    const trend = trendBySku.get(a.sku);
    return trend !== undefined && Date.parse(a.windowEnd) > Date.parse(trend.onset);
  });
  const delays = truth.trends.flatMap((trend) => {
    const first = truePositives
      .filter((a) => a.sku === trend.sku)
      .sort((a, b) => a.windowEnd.localeCompare(b.windowEnd))[0];
    if (!first) return [];
    const end = Date.parse(first.windowEnd);
    return [
      {
        sku: trend.sku,
        afterOnsetMin: (end - Date.parse(trend.onset)) / 60_000,
        afterTripledMin: (end - tripledAt(trend)) / 60_000,
      },
    ];
  });
  const falseEpisodes = episodes
    .filter((a) => !truePositives.includes(a))
    .map((a) => ({ sku: a.sku, windowEnd: a.windowEnd, decoy: decoyBySku.get(a.sku) ?? null }));
  return {
    trends: truth.trends.length,
    detected: delays.length,
    recall: truth.trends.length === 0 ? 1 : delays.length / truth.trends.length,
    precision: episodes.length === 0 ? 1 : truePositives.length / episodes.length,
    episodes: episodes.length,
    falseEpisodes,
    decoyAlerts: [...unique.values()]
      .filter((a) => decoyBySku.has(a.sku))
      .map((a) => ({ kind: decoyBySku.get(a.sku)!, sku: a.sku })),
    medianDelayAfterTripledMin: median(delays.map((d) => d.afterTripledMin)),
    medianDelayAfterOnsetMin: median(delays.map((d) => d.afterOnsetMin)),
    delays,
  };
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The same feed through the pure core, in process (no Kafka): one attributor and one windowing
 * partition per SKU partition, in feed order. For tuning and for the core throughput figure.
 */
export function runCore(
  feed: DetectionFeed,
  config: AggregatorConfig,
  partitions = 6,
): { alerts: ReorderAlert[]; signals: number; windows: number; late: number } {
  const products = new Map(feed.catalogue.map((c) => [c.sku, c]));
  const stock = new Map(feed.inventory.map((i) => [i.sku, i]));
  const tables: TrendTables = { product: (sku) => products.get(sku), inventory: (sku) => stock.get(sku) };
  const attributor = new Attributor<null>(attributionSettings(config));
  const settings = trendSettings(config);
  const trendPartitions = Array.from({ length: partitions }, () => new TrendPartition(settings, tables));
  const alerts: ReorderAlert[] = [];
  let signals = 0;
  let windows = 0;
  let late = 0;
  for (const event of feed.events) {
    const out =
      event.topic === 'mentions'
        ? attributor.onMention(event.value)
        : attributor.onInteraction(event.value, null);
    for (const signal of out.signals) {
      signals++;
      const partition = trendPartitions[hashOf(signal.sku) % partitions]!;
      partition.add(signal);
      const result = partition.drain();
      alerts.push(...result.alerts);
      windows += result.windows.length;
      late += result.late.length;
    }
  }
  return { alerts, signals, windows, late };
}

function hashOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
