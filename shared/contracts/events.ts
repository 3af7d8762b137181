/**
 * The value schemas of every Kafka topic. Producers validate before sending, consumers validate on
 * receipt; a record that fails here is a permanent error and goes to the dead-letter topic.
 * Changing a schema incompatibly means a new topic version (see topics.ts), never an edit here.
 */
import { z } from 'zod';
import { BlobRef, CountryCode, HttpsUrl, Id, Instant, Location, Sku } from './primitives.ts';

// ---------------------------------------------------------------- ingest → uploads, interactions

export const UploadImage = z
  .object({
    url: HttpsUrl.optional(),
    blobRef: BlobRef.optional(),
    contentType: z.string().max(100).optional(),
  })
  .refine((image) => (image.url === undefined) !== (image.blobRef === undefined), {
    message: 'each image needs exactly one of url or blobRef',
  });
export type UploadImage = z.infer<typeof UploadImage>;

export const Upload = z.object({
  eventId: Id,
  postId: Id,
  memberId: Id,
  images: z.array(UploadImage).min(1).max(10),
  caption: z.string().max(2200).default(''),
  hashtags: z
    .array(
      z
        .string()
        // \p{M}: combining marks belong to the letters of many scripts (Devanagari, Tamil, a
        // decomposed é); a mark cannot start a hashtag, there is nothing for it to combine with.
        .regex(/^[\p{L}\p{N}_][\p{L}\p{M}\p{N}_]{0,99}$/u, 'a hashtag is letters, digits or _ without the #'),
    )
    .max(30)
    .default([]),
  location: Location,
  clientTimestamp: Instant,
  receivedAt: Instant,
  /** Name of the API key the upload came in with. */
  source: z.string().min(1).max(64),
});
export type Upload = z.infer<typeof Upload>;

export const InteractionType = z.enum(['like', 'save', 'wishlist', 'share', 'comment']);
export type InteractionType = z.infer<typeof InteractionType>;

export const Interaction = z.object({
  eventId: Id,
  type: InteractionType,
  postId: Id,
  memberId: Id,
  timestamp: Instant,
  comment: z.string().max(2200).optional(),
  country: CountryCode.optional(),
  receivedAt: Instant,
  source: z.string().min(1).max(64),
});
export type Interaction = z.infer<typeof Interaction>;

// ---------------------------------------------------------------- embedder → mentions

const MentionBase = z.object({
  /** Deterministic: `${uploadEventId}:${imageIndex}:${sku | 'none'}` so re-processing overwrites. */
  mentionId: z.string().min(1).max(300),
  uploadEventId: Id,
  postId: Id,
  memberId: Id,
  imageIndex: z.number().int().min(0),
  /** https URL, or `blob:sha256:…` for uploaded bytes. */
  imageUrl: z.string().min(1).max(2100),
  location: Location,
  eventTime: Instant,
  modelId: z.string().min(1).max(100),
  processedAt: Instant,
  /** The photo's descriptor (same space as the catalogue vectors), for "looks like this" search. */
  photoEmbedding: z.array(z.number()).optional(),
});

export const Candidate = z.object({ sku: Sku, score: z.number() });

export const Mention = z.discriminatedUnion('kind', [
  MentionBase.extend({
    kind: z.literal('mention'),
    sku: Sku,
    score: z.number(),
    rank: z.number().int().min(1),
    /**
     * The score's lead over the best other SKU (the runner-up), as the match decision judged it:
     * a small margin is a photo that sits between products, a likely mis-match. Absent on records
     * written before it, and when the catalogue offered no other SKU.
     */
    margin: z.number().optional(),
    /**
     * The matched product's catalogue name, brand and category, as the embedder's catalogue held
     * them at match time, so a mention can be found by product like its trend windows and alerts.
     * Optional: absent on records written before them and for a SKU the catalogue does not name.
     */
    name: z.string().max(300).optional(),
    brand: z.string().max(120).optional(),
    category: z.string().max(120).optional(),
  }),
  MentionBase.extend({
    kind: z.literal('no-match'),
    /** The best candidates that did not clear the threshold, for coverage monitoring. */
    candidates: z.array(Candidate).max(10),
  }),
]);
export type Mention = z.infer<typeof Mention>;

// ---------------------------------------------------------------- catalogue → catalogue embeddings

export const CatalogueView = z.object({
  view: z.string().min(1).max(40),
  /** sha256 of the image bytes: unchanged images are not re-embedded. */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  imageUrl: z.string().max(2100).optional(),
  vector: z.array(z.number()).min(1),
});

export const CatalogueProduct = z.object({
  sku: Sku,
  style: z.string().max(64).nullable(),
  colour: z.string().max(64).nullable(),
  name: z.string().max(300).nullable(),
  category: z.string().max(120).nullable(),
  brand: z.string().max(120).nullable().default(null),
  price: z.number().nonnegative().nullable(),
});

/** Key `${sku}|${modelId}`; a null value (tombstone) means the SKU left the catalogue. */
export const CatalogueEmbedding = CatalogueProduct.extend({
  modelId: z.string().min(1).max(100),
  /** Identifies the descriptor pipeline (pooling, colour features, whitening) the vectors come from. */
  descriptor: z.string().min(1).max(100),
  dimension: z.number().int().positive(),
  views: z.array(CatalogueView).min(1),
  updatedAt: Instant,
});
export type CatalogueEmbedding = z.infer<typeof CatalogueEmbedding>;

// ---------------------------------------------------------------- ERP → inventory (compacted, key sku)

export const InventoryLevel = z.object({
  sku: Sku,
  /** Negative for a backorder (sold but not yet in stock). */
  onHand: z.number().int(),
  onOrder: z.number().int().min(0),
  leadTimeDays: z.number().min(0).max(365),
  /** Mean units sold per day over the recent past (the ERP's own figure). */
  dailySales: z.number().min(0),
  updatedAt: Instant,
});
export type InventoryLevel = z.infer<typeof InventoryLevel>;

// ---------------------------------------------------------------- aggregator internals and outputs

export const SignalKind = z.enum(['upload', 'like', 'save', 'wishlist', 'share', 'comment']);
export type SignalKind = z.infer<typeof SignalKind>;

/** One attributed unit of interest in a SKU, on the repartition topic keyed by SKU. */
export const Signal = z.object({
  /** Deterministic from the source event and SKU, for de-duplication. */
  signalId: z.string().min(1).max(300),
  sku: Sku,
  kind: SignalKind,
  postId: Id,
  memberId: Id,
  /** Author of the post, so that one eager member's posts can be told from many members' interest. */
  postMemberId: Id.optional(),
  eventTime: Instant,
  country: CountryCode,
  city: z.string().max(120).optional(),
  imageUrl: z.string().max(2100).optional(),
  matchScore: z.number().optional(),
});
export type Signal = z.infer<typeof Signal>;

/** Header that marks a progress record on signals-by-sku (its value is a WatermarkProgress). */
export const PROGRESS_HEADER = 'trend-radar-progress';

/**
 * Written by each attribution task to every partition of signals-by-sku, in the transaction of
 * its signals: it has processed its input partition through `watermark` (event time). The
 * windowing stage closes windows only up to the minimum over all sources.
 */
export const WatermarkProgress = z.object({
  /** The attribution input partition (mentions and interactions are co-partitioned). */
  source: z.number().int().min(0),
  /** How many attribution input partitions there are. */
  sources: z.number().int().positive(),
  /** null: the source has processed nothing yet (it still holds the windows back). */
  watermark: Instant.nullable(),
});
export type WatermarkProgress = z.infer<typeof WatermarkProgress>;

/** A signal that arrived after its window's grace period: kept here, never silently dropped. */
export const LateSignal = Signal.extend({
  reason: z.string().max(200),
  watermark: Instant,
});
export type LateSignal = z.infer<typeof LateSignal>;

export const WindowScope = z.string().regex(/^(global|country:[A-Z]{2})$/);

/** The final result of one closed window for one SKU and scope. */
export const TrendWindow = z.object({
  /** `${sku}|${scope}|${windowStart}|${sizeMs}`: final results are emitted once, replays overwrite. */
  windowId: z.string().min(1).max(300),
  sku: Sku,
  scope: WindowScope,
  windowStart: Instant,
  windowEnd: Instant,
  sizeMs: z.number().int().positive(),
  signals: z.number().int().min(0),
  weightedCount: z.number().min(0),
  distinctMembers: z.number().int().min(0),
  countsByKind: z.record(z.string(), z.number().int().min(0)),
  baseline: z.number().min(0),
  score: z.number(),
  pValue: z.number().min(0).max(1),
  rising: z.boolean(),
  /** Rate of the window's newest panes over the panes just before them (absent for daily windows). */
  acceleration: z.number().min(0).optional(),
  category: z.string().nullable(),
  /**
   * The product's catalogue name and brand, so windows can be found by them. Optional: records
   * written before these fields have neither (read as unknown, like null).
   */
  name: z.string().max(300).nullable().optional(),
  brand: z.string().max(120).nullable().optional(),
  emittedAt: Instant,
});
export type TrendWindow = z.infer<typeof TrendWindow>;

export const AlertStatus = z.enum(['new', 'escalated', 'cooled']);

export const ReorderAlert = z.object({
  /** `${sku}|${episodeStart}|${status}|${level}`: a restart or replay reproduces the same id. */
  alertId: z.string().min(1).max(300),
  episodeId: z.string().min(1).max(300),
  sku: Sku,
  status: AlertStatus,
  priority: z.enum(['P1', 'P2', 'P3']),
  product: CatalogueProduct.omit({ sku: true }),
  score: z.number(),
  pValue: z.number().min(0).max(1),
  /** Current rate over the baseline rate. */
  uplift: z.number().min(0),
  windowStart: Instant,
  windowEnd: Instant,
  series: z.array(z.object({ windowStart: Instant, weightedCount: z.number(), signals: z.number().int() })),
  topRegions: z.array(z.object({ country: CountryCode, signals: z.number().int(), share: z.number() })),
  photos: z.array(
    z.object({ postId: Id, imageUrl: z.string(), memberId: Id, matchScore: z.number().optional() }),
  ),
  distinctMembers: z.number().int().min(0),
  stock: z
    .object({
      onHand: z.number().int(),
      onOrder: z.number().int(),
      leadTimeDays: z.number(),
      dailySales: z.number(),
      daysOfCover: z.number().nullable(),
    })
    .nullable(),
  suggestedReorderQty: z.number().int().min(0).nullable(),
  raisedAt: Instant,
});
export type ReorderAlert = z.infer<typeof ReorderAlert>;

/** What a buyer did with an alert in the inbox. */
export const AlertAction = z.object({
  actionId: Id,
  alertId: z.string().min(1).max(300),
  sku: Sku,
  action: z.enum(['acknowledge', 'snooze', 'ordered']),
  buyer: z.string().min(1).max(200),
  snoozeUntil: Instant.optional(),
  quantity: z.number().int().positive().optional(),
  at: Instant,
});
export type AlertAction = z.infer<typeof AlertAction>;

/**
 * The notifier's durable delivery ledger (compacted, key `${buyer}|${channel}|${alertId}`): read back
 * at start so a restart or a replay never delivers the same alert to the same buyer twice.
 */
export const NotificationDelivery = z.object({
  buyer: z.string().min(1).max(200),
  channel: z.enum(['webhook', 'email', 'digest']),
  alertId: z.string().min(1).max(300),
  deliveredAt: Instant,
});
export type NotificationDelivery = z.infer<typeof NotificationDelivery>;

// ---------------------------------------------------------------- dead letters

/**
 * The dead-letter value is the original record's bytes, untouched; what went wrong travels in
 * headers (all strings), so any consumer can re-drive the record to its original topic. Only a
 * record too large for the broker's limit is cut to fit, and says so (`dlq.value.truncated`: the
 * original value's size; then `dlq.headers.dropped`, `dlq.key.dropped`): `replay copy` does not
 * re-drive those.
 */
export const DeadLetterHeaders = z.object({
  'dlq.error': z.string(),
  'dlq.error.class': z.string(),
  'dlq.service': z.string(),
  'dlq.original.topic': z.string(),
  'dlq.original.partition': z.string().regex(/^\d+$/),
  'dlq.original.offset': z.string().regex(/^\d+$/),
  'dlq.original.timestamp': z.string(),
  'dlq.failed.at': Instant,
  'dlq.attempts': z.string().regex(/^\d+$/),
  'dlq.value.truncated': z.string().regex(/^\d+$/).optional(),
  'dlq.headers.dropped': z.string().regex(/^\d+$/).optional(),
  'dlq.key.dropped': z.string().regex(/^\d+$/).optional(),
});
export type DeadLetterHeaders = z.infer<typeof DeadLetterHeaders>;
