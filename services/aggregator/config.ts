/** Aggregator settings: every one an environment variable (docs/configuration.md). */
import { z } from 'zod';
import { BaseEnv } from '../../shared/config/env.ts';
import { SignalKind } from '../../shared/contracts/events.ts';
import type { SequentialSettings } from './sequential.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegative = (fallback: number) => z.coerce.number().min(0).default(fallback);
const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/** `upload=5,save=3,…`: every signal kind must get a weight, so nothing counts by accident. */
const Weights = z
  .string()
  .transform((text, ctx) => {
    const weights: Record<string, number> = {};
    for (const part of text
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const [kind, value] = part.split('=').map((s) => s.trim());
      const parsedKind = SignalKind.safeParse(kind);
      const weight = Number(value);
      if (!parsedKind.success || !Number.isFinite(weight) || weight < 0) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not <kind>=<weight ≥ 0>` });
        return z.NEVER;
      }
      weights[parsedKind.data] = weight;
    }
    const missing = SignalKind.options.filter((k) => weights[k] === undefined);
    if (missing.length > 0) {
      ctx.addIssue({ code: 'custom', message: `missing weights for ${missing.join(', ')}` });
      return z.NEVER;
    }
    return weights as Record<SignalKind, number>;
  })
  .prefault('upload=5,save=3,wishlist=3,share=2,comment=1.5,like=1');

export const AggregatorEnv = BaseEnv.extend({
  AGGREGATOR_GROUP_ID: z.string().min(1).default('aggregator'),
  /** Stable per instance: the transactional id that fences a crashed predecessor. */
  AGGREGATOR_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .default('aggregator-0'),
  AGGREGATOR_WINDOW_SIZE_MS: positiveInt(HOUR),
  AGGREGATOR_WINDOW_ADVANCE_MS: positiveInt(5 * MINUTE),
  AGGREGATOR_GRACE_MS: nonNegative(10 * MINUTE),
  AGGREGATOR_DAILY_WINDOWS: booleanFlag(true),
  AGGREGATOR_COUNTRY_SCOPES: booleanFlag(true),
  /**
   * Wall-clock ms without records after which a partition's stream time follows the others, and
   * without progress after which a watermark source stops holding the windows back.
   */
  AGGREGATOR_IDLE_PARTITION_MS: positiveInt(30_000),
  /** Event-time lead one attribution input partition may take over the slowest one. */
  AGGREGATOR_ALIGN_SLACK_MS: nonNegative(MINUTE),
  AGGREGATOR_PENDING_MAX: positiveInt(100_000),
  AGGREGATOR_PENDING_MAX_WAIT_MS: positiveInt(2 * HOUR),
  AGGREGATOR_POST_TTL_MS: positiveInt(30 * DAY),
  /** A record whose event time is further ahead of the wall clock is dead-lettered, not processed. */
  AGGREGATOR_MAX_FUTURE_SKEW_MS: nonNegative(HOUR),
  AGGREGATOR_WEIGHTS: Weights,
  AGGREGATOR_POST_INTERACTION_CAP: z.coerce.number().positive().default(8),
  /** Weighted interactions one member can add to one SKU's window across its posts: one upload's worth (0: no cap). */
  AGGREGATOR_MEMBER_INTERACTION_CAP: nonNegative(5),
  /** Event time within which an upload of a photo the SKU already has counts as a share of it (0: off). */
  AGGREGATOR_REPOST_MEMORY_MS: nonNegative(DAY),
  AGGREGATOR_MIN_DISTINCT_MEMBERS: positiveInt(4),
  AGGREGATOR_MAX_SOURCE_SHARE: z.coerce.number().gt(0).max(1).default(0.5),
  AGGREGATOR_ALPHA: z.coerce.number().gt(0).lt(1).default(3e-5),
  AGGREGATOR_MIN_UPLIFT: z.coerce.number().min(1).default(2),
  AGGREGATOR_DISPERSION: nonNegative(0.05),
  AGGREGATOR_RECENT_PANES: positiveInt(2),
  AGGREGATOR_SEQUENTIAL_GROWTH: z.coerce.number().gt(1).default(5),
  AGGREGATOR_SEQUENTIAL_THRESHOLD: z.coerce.number().positive().default(13),
  AGGREGATOR_BASELINE_HALF_LIFE_MS: positiveInt(24 * HOUR),
  /** The baselines' half-life while their SKU has an open episode: a trend is learnt slowly. */
  AGGREGATOR_EPISODE_BASELINE_HALF_LIFE_MS: positiveInt(7 * DAY),
  AGGREGATOR_PRIOR_WEIGHT_WINDOWS: positiveInt(12),
  /** Event time of windows the prior of a product first seen after warm-up is worth. */
  AGGREGATOR_NEW_PRODUCT_PRIOR_MS: positiveInt(DAY),
  AGGREGATOR_DEFAULT_PRIOR: z.coerce.number().positive().default(2),
  AGGREGATOR_WARMUP_MS: nonNegative(24 * HOUR),
  AGGREGATOR_COOL_AFTER_MS: positiveInt(12 * HOUR),
  AGGREGATOR_ESCALATE_FACTOR: z.coerce.number().gt(1).default(2),
  AGGREGATOR_DEMAND_ELASTICITY: z.coerce.number().min(0).max(1).default(0.5),
  AGGREGATOR_TREND_HORIZON_DAYS: z.coerce.number().positive().default(14),
  AGGREGATOR_SERVICE_LEVEL_Z: nonNegative(1.65),
  AGGREGATOR_SERIES_LENGTH: positiveInt(24),
  AGGREGATOR_TOP_PHOTOS: positiveInt(5),
}).refine((env) => env.AGGREGATOR_WINDOW_SIZE_MS % env.AGGREGATOR_WINDOW_ADVANCE_MS === 0, {
  message: 'AGGREGATOR_WINDOW_SIZE_MS must be a multiple of AGGREGATOR_WINDOW_ADVANCE_MS',
  path: ['AGGREGATOR_WINDOW_SIZE_MS'],
});
export type AggregatorConfig = z.infer<typeof AggregatorEnv>;

/** What the pure windowing and scoring core needs, free of Kafka and process settings. */
export interface TrendSettings {
  windowSizeMs: number;
  advanceMs: number;
  graceMs: number;
  dailyWindows: boolean;
  countryScopes: boolean;
  weights: Record<SignalKind, number>;
  postInteractionCap: number;
  /** 0: a member's interactions are capped only per post; otherwise see member-budget.ts. */
  memberInteractionCap: number;
  /** 0: every upload is an upload; otherwise see reposts.ts. */
  repostMemoryMs: number;
  minDistinctMembers: number;
  maxSourceShare: number;
  alpha: number;
  minUplift: number;
  dispersion: number;
  recentPanes: number;
  sequential: SequentialSettings;
  baselineHalfLifeMs: number;
  episodeBaselineHalfLifeMs: number;
  priorWeightWindows: number;
  newProductPriorMs: number;
  defaultPrior: number;
  warmupMs: number;
  coolAfterMs: number;
  escalateFactor: number;
  demandElasticity: number;
  trendHorizonDays: number;
  serviceLevelZ: number;
  seriesLength: number;
  topPhotos: number;
}

export interface AttributionSettings {
  pendingMax: number;
  pendingMaxWaitMs: number;
  postTtlMs: number;
  /**
   * How long (event time) an interaction's id is remembered to drop a re-delivery: as long as a
   * window could still count it (the day, or the window, plus grace) and it could wait for its post.
   */
  dedupeHorizonMs: number;
}

export function trendSettings(config: AggregatorConfig): TrendSettings {
  return {
    windowSizeMs: config.AGGREGATOR_WINDOW_SIZE_MS,
    advanceMs: config.AGGREGATOR_WINDOW_ADVANCE_MS,
    graceMs: config.AGGREGATOR_GRACE_MS,
    dailyWindows: config.AGGREGATOR_DAILY_WINDOWS,
    countryScopes: config.AGGREGATOR_COUNTRY_SCOPES,
    weights: config.AGGREGATOR_WEIGHTS,
    postInteractionCap: config.AGGREGATOR_POST_INTERACTION_CAP,
    memberInteractionCap: config.AGGREGATOR_MEMBER_INTERACTION_CAP,
    repostMemoryMs: config.AGGREGATOR_REPOST_MEMORY_MS,
    minDistinctMembers: config.AGGREGATOR_MIN_DISTINCT_MEMBERS,
    maxSourceShare: config.AGGREGATOR_MAX_SOURCE_SHARE,
    alpha: config.AGGREGATOR_ALPHA,
    minUplift: config.AGGREGATOR_MIN_UPLIFT,
    dispersion: config.AGGREGATOR_DISPERSION,
    recentPanes: config.AGGREGATOR_RECENT_PANES,
    sequential: {
      growth: config.AGGREGATOR_SEQUENTIAL_GROWTH,
      threshold: config.AGGREGATOR_SEQUENTIAL_THRESHOLD,
    },
    baselineHalfLifeMs: config.AGGREGATOR_BASELINE_HALF_LIFE_MS,
    episodeBaselineHalfLifeMs: config.AGGREGATOR_EPISODE_BASELINE_HALF_LIFE_MS,
    priorWeightWindows: config.AGGREGATOR_PRIOR_WEIGHT_WINDOWS,
    newProductPriorMs: config.AGGREGATOR_NEW_PRODUCT_PRIOR_MS,
    defaultPrior: config.AGGREGATOR_DEFAULT_PRIOR,
    warmupMs: config.AGGREGATOR_WARMUP_MS,
    coolAfterMs: config.AGGREGATOR_COOL_AFTER_MS,
    escalateFactor: config.AGGREGATOR_ESCALATE_FACTOR,
    demandElasticity: config.AGGREGATOR_DEMAND_ELASTICITY,
    trendHorizonDays: config.AGGREGATOR_TREND_HORIZON_DAYS,
    serviceLevelZ: config.AGGREGATOR_SERVICE_LEVEL_Z,
    seriesLength: config.AGGREGATOR_SERIES_LENGTH,
    topPhotos: config.AGGREGATOR_TOP_PHOTOS,
  };
}

export function attributionSettings(config: AggregatorConfig): AttributionSettings {
  return {
    pendingMax: config.AGGREGATOR_PENDING_MAX,
    pendingMaxWaitMs: config.AGGREGATOR_PENDING_MAX_WAIT_MS,
    postTtlMs: config.AGGREGATOR_POST_TTL_MS,
    dedupeHorizonMs:
      (config.AGGREGATOR_DAILY_WINDOWS ? DAY : config.AGGREGATOR_WINDOW_SIZE_MS) +
      config.AGGREGATOR_GRACE_MS +
      config.AGGREGATOR_PENDING_MAX_WAIT_MS,
  };
}

/** The defaults, for tests and benchmarks that vary a few settings. */
export function defaultAggregatorConfig(overrides: Record<string, string> = {}): AggregatorConfig {
  return AggregatorEnv.parse(overrides);
}
