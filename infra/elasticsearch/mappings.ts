/**
 * Explicit Elasticsearch mappings of every Trend Radar index family. The indexer writes documents
 * projected from the Kafka events (shared/elasticsearch/documents.ts), never the raw events, so the
 * mappings are `dynamic: strict`: a field nobody mapped is a bug that surfaces as a mapping error
 * on the dead-letter topic instead of a silently guessed type.
 *
 * Written for Elasticsearch 8.19 with only core analysis (no analysis-common): `standard` analyzer
 * and the built-in `lowercase` filter for keyword normalisation.
 */

type Mapping = Record<string, unknown>;

const keyword: Mapping = { type: 'keyword' };
const date: Mapping = { type: 'date' };
const float: Mapping = { type: 'float' };
const double: Mapping = { type: 'double' };
const integer: Mapping = { type: 'integer' };
const long: Mapping = { type: 'long' };
/** Searchable text plus an exact keyword for aggregations and sorting. */
const textAndKeyword = (ignoreAbove = 256): Mapping => ({
  type: 'text',
  analyzer: 'standard',
  fields: { keyword: { type: 'keyword', ignore_above: ignoreAbove } },
});
/**
 * Vector field: the dimension is taken from the first document of each index (the descriptor
 * decides it, see docs/search.md); cosine because the descriptors are compared by angle.
 * A document whose vector has another dimension, or zero magnitude, fails with a mapping error;
 * the indexer then indexes it without its vectors (shared/elasticsearch/bulk.ts).
 */
const vector: Mapping = { type: 'dense_vector', index: true, similarity: 'cosine' };

/**
 * A product's catalogue name and brand, the same on trend windows, alerts and mentions, so one
 * query (`product.name : "wild thing"`) finds all three: `product.name` text (any case, a word is
 * enough) + `product.name.keyword` (exact, for tables), `product.brand` keyword (exact: the
 * catalogue's spelling is what tables and last values show); and folded (foldForSearch in
 * shared/elasticsearch/documents.ts: no accents, ø → o, ß → ss…, lower-cased), for queries typed
 * plain and in any case: `product.nameFolded : soren`, `product.brandFolded : "maison vermeil"`.
 */
const productLabels = {
  name: textAndKeyword(),
  nameFolded: { type: 'text', analyzer: 'standard' },
  brand: keyword,
  brandFolded: { type: 'keyword', normalizer: 'lowercase' },
} as const;

/** Where a post was taken: `point` only when the member shared coordinates. */
const location: Mapping = {
  properties: { country: keyword, city: keyword, point: { type: 'geo_point' } },
};

/** Settings every index shares: one shard is plenty at this volume; replicas when a second node exists. */
export const commonSettings = {
  number_of_shards: 1,
  auto_expand_replicas: '0-1',
  refresh_interval: '1s',
  analysis: { normalizer: { lowercase: { type: 'custom', filter: ['lowercase'] } } },
} as const;

export const postsMapping: Mapping = {
  dynamic: 'strict',
  properties: {
    '@timestamp': date,
    postId: keyword,
    uploadEventId: keyword,
    memberId: keyword,
    caption: textAndKeyword(1024),
    /** Exact (lower-cased) hashtags for terms aggregations, and analysed for full-text search. */
    hashtags: {
      type: 'keyword',
      normalizer: 'lowercase',
      fields: { text: { type: 'text', analyzer: 'standard' } },
    },
    /** Caption and hashtags without accents (foldAccents), so that "cafe" finds "Café". */
    captionFolded: { type: 'text', analyzer: 'standard' },
    hashtagsFolded: { type: 'keyword', normalizer: 'lowercase' },
    location,
    /** `location.country` again, under the name every index shares for one dashboard filter. */
    country: keyword,
    imageUrls: keyword,
    /** Browsable links of the photos (services/indexer/documents.ts); blob photos only with INDEXER_PHOTO_BASE_URL. */
    photoLinks: keyword,
    imageCount: integer,
    clientTimestamp: date,
    receivedAt: date,
    source: keyword,
  },
};

export const mentionsMapping: Mapping = {
  dynamic: 'strict',
  properties: {
    '@timestamp': date,
    mentionId: keyword,
    uploadEventId: keyword,
    postId: keyword,
    memberId: keyword,
    imageIndex: integer,
    /** `${uploadEventId}:${imageIndex}`: the photo, also the document id (one document per photo). */
    photoId: keyword,
    imageUrl: keyword,
    /** Browsable link of the photo (see posts.photoLinks). */
    photoLink: keyword,
    kind: keyword,
    sku: keyword,
    score: float,
    rank: integer,
    /** The score's lead over the runner-up SKU (`margin < 0.05`: a photo between products). */
    margin: float,
    /** The matched product (the embedder's catalogue at match time), as on windows and alerts. */
    product: { properties: productLabels },
    /** Lower-cased, as on trend windows and alerts (`category : shoes`). */
    category: keyword,
    candidates: { properties: { sku: keyword, score: float } },
    modelId: keyword,
    location,
    country: keyword,
    eventTime: date,
    processedAt: date,
    photoEmbedding: vector,
  },
};

const countsByKind: Mapping = {
  // Known signal kinds are mapped; a kind added later stays in _source until mapped here.
  dynamic: false,
  properties: {
    upload: integer,
    like: integer,
    save: integer,
    wishlist: integer,
    share: integer,
    comment: integer,
  },
};

export const trendWindowsMapping: Mapping = {
  dynamic: 'strict',
  properties: {
    '@timestamp': date,
    windowId: keyword,
    sku: keyword,
    /** `global` or `country:GB`; `country` holds the code alone for per-region queries. */
    scope: keyword,
    country: keyword,
    windowStart: date,
    windowEnd: date,
    sizeMs: long,
    signals: integer,
    weightedCount: float,
    distinctMembers: integer,
    countsByKind,
    baseline: float,
    /** weightedCount / baseline (the indexer's): activity over the SKU's usual, as alerts report it. */
    uplift: float,
    score: float,
    pValue: double,
    rising: { type: 'boolean' },
    category: keyword,
    /** The product's catalogue name and brand, as on alerts and mentions (`productLabels`). */
    product: { properties: productLabels },
    emittedAt: date,
  },
};

export const reorderAlertsMapping: Mapping = {
  dynamic: 'strict',
  // `regionShare.FR` is a float whatever the share's JSON looks like (a share of 1 would
  // otherwise map the country as a long and truncate every later share to 0).
  dynamic_templates: [{ regionShares: { path_match: 'regionShare.*', mapping: { type: 'float' } } }],
  properties: {
    '@timestamp': date,
    alertId: keyword,
    episodeId: keyword,
    sku: keyword,
    status: keyword,
    priority: keyword,
    product: {
      properties: {
        style: keyword,
        colour: keyword,
        category: keyword,
        price: double,
        ...productLabels,
      },
    },
    /** `product.category` lower-cased, where windows and mentions have it (`category : shoes`). */
    category: keyword,
    score: float,
    pValue: double,
    uplift: float,
    windowStart: date,
    windowEnd: date,
    raisedAt: date,
    /** Evidence shown with the alert, stored but not indexed. */
    series: { type: 'object', enabled: false },
    topRegions: { properties: { country: keyword, signals: integer, share: float } },
    topCountries: keyword,
    /** `topCountries` again, under the name every index shares for one dashboard filter. */
    country: keyword,
    /**
     * Each top region's share under its country code, so a filter such as `regionShare.FR >= 0.2`
     * tests one region's pair: `topRegions` is a plain object array, where `topRegions.country: FR
     * and topRegions.share >= 0.2` also matches FR with another region's share.
     */
    regionShare: { type: 'object', dynamic: true },
    photos: { properties: { postId: keyword, imageUrl: keyword, memberId: keyword, matchScore: float } },
    /** The evidence photos' URLs, the first one alone for a table column that links to it. */
    photoUrls: keyword,
    firstPhotoUrl: keyword,
    /** Browsable links of the photos (see posts.photoLinks), the first one alone for a column. */
    photoLinks: keyword,
    firstPhotoLink: keyword,
    distinctMembers: integer,
    stock: {
      properties: {
        onHand: integer,
        onOrder: integer,
        leadTimeDays: float,
        dailySales: float,
        daysOfCover: float,
      },
    },
    suggestedReorderQty: integer,
  },
};

export const alertActionsMapping: Mapping = {
  dynamic: 'strict',
  properties: {
    '@timestamp': date,
    actionId: keyword,
    alertId: keyword,
    sku: keyword,
    action: keyword,
    buyer: keyword,
    snoozeUntil: date,
    quantity: integer,
    at: date,
  },
};

/**
 * One document per SKU and model (`${sku}|${modelId}`), the views as nested objects each with its
 * vector: an update or a tombstone touches exactly one document (no delete-by-query, which this
 * server lacks), and nested kNN returns the product once with its best-matching view.
 */
export const catalogueMapping: Mapping = {
  dynamic: 'strict',
  properties: {
    '@timestamp': date,
    sku: keyword,
    modelId: keyword,
    descriptor: keyword,
    dimension: integer,
    style: keyword,
    colour: keyword,
    name: textAndKeyword(),
    category: keyword,
    brand: keyword,
    price: double,
    updatedAt: date,
    views: {
      type: 'nested',
      properties: { view: keyword, contentHash: keyword, imageUrl: keyword, vector },
    },
  },
};
