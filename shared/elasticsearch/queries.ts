/**
 * The questions a merchandiser asks, as Elasticsearch queries over the aliases:
 *   rising products now (overall, in one region, in one category; or grouped by region/category),
 *   a SKU's timeline, the posts mentioning a SKU with their photos, full-text search of captions
 *   and hashtags, and the photos that look like a product (kNN of its catalogue vectors against
 *   the photo descriptors on mentions).
 * Every query takes `now` so a test (or a replayed period) can ask "as of" a given instant.
 */
import type { Client } from '@elastic/elasticsearch';
import { foldAccents } from './documents.ts';
import { aliasName } from './indices.ts';

/**
 * The size of the aggregator's hopping windows (AGGREGATOR_WINDOW_SIZE_MS, default one hour). The
 * trend-windows indices also hold one window per UTC day, whose counts and scores are on another
 * scale: rising products and timelines read only windows of this size unless told otherwise.
 * (The Kibana panels use the same value, HOURLY_WINDOW_MS in infra/kibana/saved-objects.ts.)
 */
export const DEFAULT_WINDOW_SIZE_MS = 3_600_000;

/** The aggregator's daily windows (one per UTC day, per SKU and scope): `search timeline --daily`. */
export const DAILY_WINDOW_MS = 86_400_000;

/**
 * Elasticsearch's limit on a kNN query's `num_candidates` (and so on `k`): "looks like" returns at
 * most this many photos.
 */
export const KNN_MAX_CANDIDATES = 10_000;

/** At most this many timeline points are returned (the newest); 10 days of 5-minute hops is 2,880. */
export const TIMELINE_MAX_POINTS = 5_000;
const TIMELINE_PAGE = 1_000;

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `30m`, `6h`, `7d`, `2w` → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 30m, 6h, 7d)`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

export interface RisingProduct {
  sku: string;
  category: string | null;
  /** The catalogue's product name and brand, as the aggregator wrote them into the window. */
  name: string | null;
  brand: string | null;
  /**
   * Weighted signals of its busiest rising window in the period: what the list is ranked by
   * (volume does not fade as the SKU's baseline adapts to a trend; the score does).
   */
  weightedCount: number;
  /**
   * Signals and distinct members of that same window: hopping windows overlap (a signal is in about
   * twelve of them), so a sum over windows would count each signal many times.
   */
  signals: number;
  distinctMembers: number;
  busiestWindowStart: string;
  /** Best score of its rising windows in the period (shown, not ranked by). */
  maxScore: number;
  risingWindows: number;
  /**
   * The SKU's newest window in the scope and period, whatever its flag: is it still rising, with
   * which score and volume.
   */
  latestWindowStart: string;
  latestWindowEnd: string;
  latestScore: number;
  latestWeightedCount: number;
  stillRising: boolean;
}

export interface RisingGroup {
  key: string;
  risingSkus: number;
  /** The group's SKUs with the most weighted signals in a rising window, and their best score. */
  top: Array<{ sku: string; weightedCount: number; maxScore: number }>;
}

export interface TimelinePoint {
  windowStart: string;
  windowEnd: string;
  signals: number;
  weightedCount: number;
  baseline: number;
  score: number;
  rising: boolean;
}

export interface Timeline {
  sku: string;
  scope: string;
  /** The window size the points are of (the hourly windows unless asked for another). */
  sizeMs: number;
  /** Oldest first, ending with the newest window in the period. */
  points: TimelinePoint[];
  /** Windows in the period; more than `points.length` when `truncated`. */
  total: number;
  /** True when the period holds more windows than `maxPoints`: the oldest ones are left out. */
  truncated: boolean;
}

export interface PostWithPhotos {
  postId: string;
  caption: string;
  hashtags: string[];
  imageUrls: string[];
  country: string | null;
  city: string | null;
  at: string | null;
}

export interface MentioningPost extends PostWithPhotos {
  /** The photo that matched and how well. */
  matchedImageUrl: string;
  matchScore: number;
}

export interface FoundPost extends PostWithPhotos {
  relevance: number;
  highlights: string[];
}

export interface LookalikePhoto {
  photoId: string;
  postId: string;
  imageUrl: string;
  /** Cosine similarity between the photo descriptor and the product's mean view vector. */
  similarity: number;
  /** The SKU the embedder matched this photo to, if any (never the asked SKU unless `includeMatched`). */
  matchedSku: string | null;
  country: string | null;
}

interface PostSource {
  postId: string;
  caption?: string;
  hashtags?: string[];
  imageUrls?: string[];
  location?: { country?: string; city?: string };
  '@timestamp'?: string;
}

const postOf = (source: PostSource): PostWithPhotos => ({
  postId: source.postId,
  caption: source.caption ?? '',
  hashtags: source.hashtags ?? [],
  imageUrls: source.imageUrls ?? [],
  country: source.location?.country ?? null,
  city: source.location?.city ?? null,
  at: source['@timestamp'] ?? null,
});

/** A missing alias (nothing indexed yet) reads as "no results", not as an error. */
const lenient = { ignore_unavailable: true, allow_no_indices: true } as const;

export class MerchandiserQueries {
  private readonly windowSizeMs: number;

  constructor(
    private readonly client: Client,
    private readonly prefix: string,
    /** `windowSizeMs`: the aggregator's AGGREGATOR_WINDOW_SIZE_MS, if not the default hour. */
    options: { windowSizeMs?: number } = {},
  ) {
    this.windowSizeMs = options.windowSizeMs ?? DEFAULT_WINDOW_SIZE_MS;
  }

  private alias(family: Parameters<typeof aliasName>[1]): string {
    return aliasName(this.prefix, family);
  }

  private since(since: string, now: Date): string {
    return new Date(now.getTime() - parseDuration(since)).toISOString();
  }

  /**
   * The windows of the look-back period: those that **ended** in it (and by `now`). A window is
   * only written once it has ended plus the aggregator's grace (an hourly window about 70 minutes
   * after its start), so a filter on its start would leave a short look-back (`1h`) empty.
   */
  private period(since: string, now: Date): Record<string, unknown> {
    return { range: { windowEnd: { gte: this.since(since, now), lte: now.toISOString() } } };
  }

  /**
   * SKUs with rising windows in the period, one region (`country`) or global: ranked by the
   * weighted signals of their busiest rising window (then by best score), each with its newest
   * window in the period whether still rising or not.
   */
  async risingProducts(
    options: { since?: string; country?: string; category?: string; size?: number; now?: Date } = {},
  ): Promise<RisingProduct[]> {
    const { since = '24h', size = 20, now = new Date() } = options;
    const scope = options.country ? `country:${options.country.toUpperCase()}` : 'global';
    const inScope = [
      // Hourly windows only: a daily window's counts and score are on another scale.
      { term: { sizeMs: this.windowSizeMs } },
      { term: { scope } },
      this.period(since, now),
    ];
    const response = await this.client.search({
      index: this.alias('trend-windows'),
      ...lenient,
      size: 0,
      query: {
        bool: { filter: [{ term: { rising: true } }, ...inScope, ...categoryFilter(options.category)] },
      },
      aggs: {
        skus: {
          terms: {
            field: 'sku',
            size,
            order: [{ max_weighted: 'desc' }, { max_score: 'desc' }, { _key: 'asc' }],
          },
          aggs: {
            max_weighted: { max: { field: 'weightedCount' } },
            max_score: { max: { field: 'score' } },
            busiest: {
              top_hits: {
                size: 1,
                sort: [{ weightedCount: 'desc' }, { score: 'desc' }, { windowStart: 'desc' }],
                _source: [...WINDOW_FIELDS, 'category', 'product.name', 'product.brand'],
              },
            },
          },
        },
      },
    });
    const buckets = (response.aggregations?.skus as { buckets?: SkuBucket[] } | undefined)?.buckets ?? [];
    if (buckets.length === 0) return [];
    // The newest window of each, rising or not: the rising ones above may have stopped.
    const latest = await this.client.search({
      index: this.alias('trend-windows'),
      ...lenient,
      size: 0,
      query: { bool: { filter: [{ terms: { sku: buckets.map((b) => b.key) } }, ...inScope] } },
      aggs: {
        skus: {
          terms: { field: 'sku', size: buckets.length },
          aggs: {
            newest: {
              top_hits: {
                size: 1,
                sort: [{ windowEnd: 'desc' }, { windowStart: 'desc' }],
                _source: WINDOW_FIELDS,
              },
            },
          },
        },
      },
    });
    const newest = new Map(
      ((latest.aggregations?.skus as { buckets?: LatestBucket[] } | undefined)?.buckets ?? []).map((b) => [
        b.key,
        b.newest.hits.hits[0]!._source,
      ]),
    );
    return buckets.map((b) => {
      const busiest = b.busiest.hits.hits[0]!._source;
      // The busiest rising window is itself in the scope and period: the fallback is never needed.
      const last = newest.get(b.key) ?? busiest;
      return {
        sku: b.key,
        category: busiest.category ?? null,
        name: busiest.product?.name ?? null,
        brand: busiest.product?.brand ?? null,
        weightedCount: busiest.weightedCount,
        signals: busiest.signals,
        distinctMembers: busiest.distinctMembers,
        busiestWindowStart: busiest.windowStart,
        maxScore: float32(b.max_score.value),
        risingWindows: b.doc_count,
        latestWindowStart: last.windowStart,
        latestWindowEnd: last.windowEnd,
        latestScore: last.score,
        latestWeightedCount: last.weightedCount,
        stillRising: last.rising,
      };
    });
  }

  /**
   * Rising SKUs grouped by region (per-country windows) or by category (global windows), each
   * group's top SKUs ranked as `risingProducts` ranks them (weighted signals of the busiest rising
   * window).
   */
  async risingBy(
    dimension: 'country' | 'category',
    options: {
      since?: string;
      size?: number;
      top?: number;
      now?: Date;
      country?: string;
      category?: string;
    } = {},
  ): Promise<RisingGroup[]> {
    const { since = '24h', size = 20, top = 3, now = new Date() } = options;
    const response = await this.client.search({
      index: this.alias('trend-windows'),
      ...lenient,
      size: 0,
      query: {
        bool: {
          filter: [
            { term: { rising: true } },
            { term: { sizeMs: this.windowSizeMs } },
            // One region's windows when asked (its categories, say), else every region's or the global ones.
            options.country
              ? { term: { scope: `country:${options.country.toUpperCase()}` } }
              : dimension === 'country'
                ? { prefix: { scope: 'country:' } }
                : { term: { scope: 'global' } },
            this.period(since, now),
            ...categoryFilter(options.category),
          ],
        },
      },
      aggs: {
        groups: {
          terms: { field: dimension, size, order: [{ skus: 'desc' }, { _key: 'asc' }] },
          aggs: {
            skus: { cardinality: { field: 'sku' } },
            top: {
              terms: {
                field: 'sku',
                size: top,
                order: [{ max_weighted: 'desc' }, { max_score: 'desc' }, { _key: 'asc' }],
              },
              aggs: {
                max_weighted: { max: { field: 'weightedCount' } },
                max_score: { max: { field: 'score' } },
              },
            },
          },
        },
      },
    });
    const buckets = (response.aggregations?.groups as { buckets?: GroupBucket[] } | undefined)?.buckets ?? [];
    return buckets.map((b) => ({
      key: b.key,
      risingSkus: b.skus.value,
      top: b.top.buckets.map((t) => ({
        sku: t.key,
        weightedCount: float32(t.max_weighted.value),
        maxScore: float32(t.max_score.value),
      })),
    }));
  }

  /**
   * The SKU's closed windows of one size (the hourly ones unless `sizeMs`, e.g. DAILY_WINDOW_MS) that
   * ended in the period, in time order, global unless `country`, with baseline and score: the newest
   * `maxPoints` of the period, read newest first page by page, with `truncated` set when older
   * windows were left out.
   */
  async skuTimeline(
    sku: string,
    options: { since?: string; country?: string; sizeMs?: number; maxPoints?: number; now?: Date } = {},
  ): Promise<Timeline> {
    const {
      since = '7d',
      now = new Date(),
      sizeMs = this.windowSizeMs,
      maxPoints = TIMELINE_MAX_POINTS,
    } = options;
    const scope = options.country ? `country:${options.country.toUpperCase()}` : 'global';
    const query = {
      bool: {
        filter: [{ term: { sku } }, { term: { scope } }, { term: { sizeMs } }, this.period(since, now)],
      },
    };
    const newestFirst: TimelinePoint[] = [];
    let total = 0;
    let after: unknown[] | undefined;
    while (newestFirst.length < maxPoints) {
      const response = await this.client.search<TimelinePoint>({
        index: this.alias('trend-windows'),
        ...lenient,
        size: Math.min(TIMELINE_PAGE, maxPoints - newestFirst.length),
        // windowId breaks ties (the same start in two monthly indices cannot happen, but be total).
        sort: [{ windowStart: 'desc' }, { windowId: 'asc' }],
        ...(after ? { search_after: after as never } : { track_total_hits: true }),
        _source: ['windowStart', 'windowEnd', 'signals', 'weightedCount', 'baseline', 'score', 'rising'],
        query,
      });
      if (!after) {
        const t = response.hits.total;
        total = typeof t === 'number' ? t : (t?.value ?? 0);
      }
      const hits = response.hits.hits;
      newestFirst.push(...hits.map((h) => h._source!));
      if (hits.length === 0 || newestFirst.length >= total) break;
      after = hits.at(-1)!.sort;
    }
    return {
      sku,
      scope,
      sizeMs,
      points: newestFirst.reverse(),
      total,
      truncated: total > newestFirst.length,
    };
  }

  /** Posts whose photos the embedder matched to `sku`, best match first, with caption and photos. */
  async postsMentioningSku(sku: string, options: { size?: number } = {}): Promise<MentioningPost[]> {
    const { size = 20 } = options;
    const mentions = await this.client.search<{ postId: string; imageUrl: string; score: number }>({
      index: this.alias('mentions'),
      ...lenient,
      size,
      query: { bool: { filter: [{ term: { kind: 'mention' } }, { term: { sku } }] } },
      sort: [{ score: 'desc' }, { '@timestamp': 'desc' }],
      collapse: { field: 'postId' },
      _source: ['postId', 'imageUrl', 'score'],
    });
    const hits = mentions.hits.hits.map((h) => h._source!);
    const posts = await this.postsById(hits.map((h) => h.postId));
    return hits.map((mention) => ({
      ...(posts.get(mention.postId) ?? postOf({ postId: mention.postId })),
      matchedImageUrl: mention.imageUrl,
      matchScore: mention.score,
    }));
  }

  /** Full text over captions and hashtags; `#tag` words also match the exact hashtag. */
  async searchPosts(
    text: string,
    options: { size?: number; since?: string; now?: Date } = {},
  ): Promise<FoundPost[]> {
    const { size = 20, now = new Date() } = options;
    const tags = [...text.matchAll(/#([\p{L}\p{M}\p{N}_]+)/gu)].map((m) => m[1]!.toLowerCase());
    const words = text.replace(/#/g, ' ').trim();
    // Accent-blind as well: folded text against the folded fields (composed or decomposed alike).
    const foldedWords = foldAccents(words);
    const foldedTags = tags.map(foldAccents);
    const response = await this.client.search<PostSource>({
      index: this.alias('posts'),
      ...lenient,
      size,
      query: {
        bool: {
          should: [
            { multi_match: { query: words, fields: ['caption', 'hashtags.text^2'], operator: 'or' } },
            { match: { captionFolded: { query: foldedWords, operator: 'or' } } },
            ...(tags.length > 0
              ? [{ terms: { hashtags: tags, boost: 3 } }, { terms: { hashtagsFolded: foldedTags, boost: 2 } }]
              : []),
          ],
          minimum_should_match: 1,
          filter: options.since ? [{ range: { '@timestamp': { gte: this.since(options.since, now) } } }] : [],
        },
      },
      highlight: { fields: { caption: {}, 'hashtags.text': {} } },
    });
    return response.hits.hits.map((h) => ({
      ...postOf(h._source!),
      relevance: h._score ?? 0,
      highlights: Object.values(h.highlight ?? {}).flat(),
    }));
  }

  /**
   * Photos that look like the product: the mean of its (unit-length) catalogue view vectors
   * against the photo descriptors on mentions of the same model, one hit per photo. Photos the
   * embedder already matched to this SKU are left out unless `includeMatched`: what is left are the
   * ones it missed (no match, or matched to another SKU). At most KNN_MAX_CANDIDATES photos.
   */
  async postsLookingLike(
    sku: string,
    options: { modelId?: string; size?: number; includeMatched?: boolean } = {},
  ): Promise<LookalikePhoto[]> {
    const { size = 20, includeMatched = false } = options;
    if (!Number.isInteger(size) || size < 1 || size > KNN_MAX_CANDIDATES)
      throw new RangeError(
        `looks-like returns 1 to ${KNN_MAX_CANDIDATES.toLocaleString('en')} photos (Elasticsearch's kNN limit), not ${size}`,
      );
    const catalogue = await this.client.search<{ modelId: string; views: Array<{ vector: number[] }> }>({
      index: this.alias('catalogue'),
      ...lenient,
      size: 1,
      query: {
        bool: {
          filter: [{ term: { sku } }, ...(options.modelId ? [{ term: { modelId: options.modelId } }] : [])],
        },
      },
      sort: [{ updatedAt: 'desc' }],
      _source: ['modelId', 'views.vector'],
    });
    const product = catalogue.hits.hits[0]?._source;
    if (!product)
      throw new Error(
        `SKU ${sku} is not in the catalogue index${options.modelId ? ` for ${options.modelId}` : ''}`,
      );
    const vectors = product.views.map((v) => v.vector).filter((v): v is number[] => Array.isArray(v));
    if (vectors.length === 0)
      throw new Error(
        `SKU ${sku} has no view vectors in the catalogue index for ${product.modelId} (indexed without them: see "Vectors of another dimension" in docs/search.md)`,
      );
    const queryVector = meanOfUnitVectors(vectors);
    const request = {
      index: this.alias('mentions'),
      ...lenient,
      knn: {
        field: 'photoEmbedding',
        query_vector: queryVector,
        k: size,
        // Elasticsearch refuses more than 10,000 candidates: a larger list would be no more exact.
        num_candidates: Math.min(KNN_MAX_CANDIDATES, Math.max(100, size * 10)),
        // A pre-filter: the k nearest of the photos left, not the k nearest with some dropped after.
        filter: {
          bool: {
            filter: [{ term: { modelId: product.modelId } }],
            must_not: includeMatched ? [] : [{ term: { sku } }],
          },
        },
      },
      // One hit per photo (documents written before one-document-per-photo held one per decision).
      collapse: { field: 'photoId' },
      size,
      _source: ['photoId', 'postId', 'imageUrl', 'kind', 'sku', 'location.country'],
    };
    const response = await this.client
      .search<{
        photoId: string;
        postId: string;
        imageUrl: string;
        kind: string;
        sku?: string;
        location?: { country?: string };
      }>(request)
      .catch((error: unknown) => {
        const reason = elasticsearchReason(error);
        if (reason && /different number of dimensions/i.test(reason))
          throw new Error(
            `SKU ${sku}: its ${product.modelId} catalogue vectors have ${queryVector.length} dimensions, the photo descriptors ` +
              `in the mentions index another (${reason}): the catalogue was synced with another descriptor than ` +
              'the photos were embedded with; see "Vectors of another dimension" in docs/search.md',
            { cause: error },
          );
        throw error;
      });
    return response.hits.hits.map((h) => {
      const source = h._source!;
      return {
        photoId: source.photoId,
        postId: source.postId,
        imageUrl: source.imageUrl,
        // Elasticsearch reports cosine as (1 + cos) / 2.
        similarity: 2 * (h._score ?? 0) - 1,
        matchedSku: source.kind === 'mention' ? (source.sku ?? null) : null,
        country: source.location?.country ?? null,
      };
    });
  }

  private async postsById(ids: string[]): Promise<Map<string, PostWithPhotos>> {
    if (ids.length === 0) return new Map();
    const response = await this.client.search<PostSource>({
      index: this.alias('posts'),
      ...lenient,
      size: ids.length,
      query: { terms: { postId: ids } },
    });
    return new Map(response.hits.hits.map((h) => [h._source!.postId, postOf(h._source!)]));
  }
}

/**
 * What Elasticsearch said when it refused a request, in one line: the deepest cause of the first
 * root cause (a "search_phase_execution_exception: all shards failed" says nothing by itself), or
 * undefined when the error is not an answer from Elasticsearch (a connection error, say).
 */
export function elasticsearchReason(error: unknown): string | undefined {
  const e = error as { name?: string; meta?: { statusCode?: number; body?: unknown } } | null;
  if (e?.name !== 'ResponseError') return undefined;
  interface Cause {
    type?: string;
    reason?: string;
    caused_by?: Cause;
    root_cause?: Cause[];
    failed_shards?: Array<{ reason?: Cause }>;
  }
  const top = (e.meta?.body as { error?: Cause | string } | undefined)?.error;
  if (typeof top === 'string') return top;
  if (!top) return undefined;
  let cause: Cause = top.failed_shards?.[0]?.reason ?? top.root_cause?.[0] ?? top;
  while (cause.caused_by?.reason) cause = cause.caused_by;
  return [cause.type, cause.reason].filter(Boolean).join(': ') || undefined;
}

/**
 * A `float` field's value as an aggregation returns it (0.6000000238418579 for 0.6), to the seven
 * significant digits a float holds: what was written, as `_source` has it.
 */
function float32(value: number): number {
  return Number(value.toPrecision(7));
}

/** Categories are indexed lower-cased (documents.ts): `--category Bags` finds `bags`. */
function categoryFilter(category: string | undefined): Array<Record<string, unknown>> {
  return category ? [{ term: { category: category.toLowerCase() } }] : [];
}

/** The normalised mean of the normalised vectors: the direction the views share. */
export function meanOfUnitVectors(vectors: number[][]): number[] {
  if (vectors.length === 0) throw new Error('no vectors to average');
  const dimension = vectors[0]!.length;
  const sum = new Array<number>(dimension).fill(0);
  for (const vector of vectors) {
    if (vector.length !== dimension) throw new Error('vectors of different dimensions');
    const norm = Math.hypot(...vector);
    if (norm === 0) continue;
    for (let i = 0; i < dimension; i++) sum[i]! += vector[i]! / norm;
  }
  const norm = Math.hypot(...sum);
  if (norm === 0) throw new Error('the vectors cancel out or are all zero');
  return sum.map((x) => x / norm);
}

/** The window fields `search rising` reports. */
const WINDOW_FIELDS = [
  'windowStart',
  'windowEnd',
  'weightedCount',
  'signals',
  'distinctMembers',
  'score',
  'rising',
];

interface WindowSource {
  windowStart: string;
  windowEnd: string;
  weightedCount: number;
  signals: number;
  distinctMembers: number;
  score: number;
  rising: boolean;
  category?: string;
  product?: { name?: string; brand?: string };
}

interface SkuBucket {
  key: string;
  doc_count: number;
  max_score: { value: number };
  busiest: { hits: { hits: Array<{ _source: WindowSource }> } };
}

interface LatestBucket {
  key: string;
  newest: { hits: { hits: Array<{ _source: WindowSource }> } };
}

interface GroupBucket {
  key: string;
  skus: { value: number };
  top: { buckets: Array<{ key: string; max_weighted: { value: number }; max_score: { value: number } }> };
}
