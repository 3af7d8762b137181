/**
 * Kafka events → Elasticsearch documents. Pure: each function returns where the document goes
 * (index chosen from the event's own time, so a replay lands in the same monthly index), its id
 * (derived from the event, so re-delivery overwrites) and the document (only mapped fields).
 * The catalogue sync of the embedder writes the catalogue with `catalogueAction` as well.
 */
import type {
  AlertAction,
  CatalogueEmbedding,
  Mention,
  ReorderAlert,
  TrendWindow,
  Upload,
} from '../contracts/events.ts';
import type { Location } from '../contracts/primitives.ts';
import { catalogueIndex, type FamilyId, monthlyIndex } from './indices.ts';

export type IndexAction =
  | {
      op: 'index';
      family: FamilyId;
      index: string;
      id: string;
      document: Record<string, unknown>;
      /**
       * External version (epoch milliseconds of the event's own clock), sent with
       * `version_type: external_gte`: an older event never overwrites a newer one, whatever order
       * they arrive in, and the same event delivered again overwrites itself (idempotent).
       */
      version?: number;
      /**
       * Dotted paths of the document's `dense_vector` fields (`views.vector` inside the nested
       * views). When Elasticsearch rejects the document because of one of them (another dimension
       * than the index's, zero magnitude), the bulk path indexes it again without them rather than
       * losing the searchable rest (see `withoutVectors` and docs/search.md).
       */
      vectorFields?: readonly string[];
    }
  | { op: 'delete'; family: FamilyId; index: string; id: string };

/** Epoch milliseconds of an instant, as the external version of a document. */
export const versionOf = (instant: string): number => new Date(instant).getTime();

/** Removes `path` (dotted; arrays of objects are walked) from a copy of `value`. */
function withoutPath(value: unknown, path: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((item) => withoutPath(item, path));
  if (!value || typeof value !== 'object' || path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  if (!(head in copy)) return copy;
  if (rest.length === 0) delete copy[head];
  else copy[head] = withoutPath(copy[head], rest);
  return copy;
}

/** The same action without its vector fields (and without `vectorFields`, so it is tried once). */
export function withoutVectors(action: IndexAction): IndexAction {
  if (action.op !== 'index' || !action.vectorFields?.length) return action;
  let document: unknown = action.document;
  for (const field of action.vectorFields) document = withoutPath(document, field.split('.'));
  const { vectorFields: _dropped, ...rest } = action;
  return { ...rest, document: document as Record<string, unknown> };
}

/** Normalised to UTC milliseconds: one format in every index, whatever offset the producer used. */
const utc = (instant: string): string => new Date(instant).toISOString();
const utcOptional = (instant: string | undefined): string | undefined =>
  instant === undefined ? undefined : utc(instant);

export function locationDocument(location: Location): Record<string, unknown> {
  const { country, city, lat, lon } = location;
  return lat !== undefined && lon !== undefined ? { country, city, point: { lat, lon } } : { country, city };
}

/** Drops undefined values so optional fields are absent rather than null. */
function compact(document: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(document).filter(([, value]) => value !== undefined));
}

/** How a photo is addressed: the https URL, or `blob:sha256:…` for uploaded bytes (as mentions do). */
export function imageAddress(image: Upload['images'][number]): string {
  return image.url ?? `blob:${image.blobRef}`;
}

/**
 * Latin letters that are not a base letter plus a mark, so taking marks off leaves them as they
 * are: their usual plain spelling (as ASCII folding writes them), so `soren` finds "Søren",
 * `lukasz` "Łukasz", `strasse` "Straße".
 */
const PLAIN_LETTERS: Readonly<Record<string, string>> = {
  ø: 'o',
  Ø: 'O',
  æ: 'ae',
  Æ: 'AE',
  œ: 'oe',
  Œ: 'OE',
  ß: 'ss',
  ẞ: 'SS',
  ł: 'l',
  Ł: 'L',
  đ: 'd',
  Đ: 'D',
  ð: 'd',
  Ð: 'D',
  þ: 'th',
  Þ: 'TH',
  ı: 'i',
  ħ: 'h',
  Ħ: 'H',
};
const PLAIN_LETTER = new RegExp(`[${Object.keys(PLAIN_LETTERS).join('')}]`, 'gu');

/**
 * Text with the accents of Latin letters taken off (é → e, composed or decomposed alike), and the
 * Latin letters that have no mark to take off spelled plain (ø → o, æ → ae, ß → ss, ł → l, œ → oe,
 * đ/ð → d, þ → th), for accent-blind search: this node has only core analysis, no asciifolding.
 * Marks of other scripts (Devanagari's vowel signs, say) are part of their letters and stay. Case
 * is kept (the folded fields are lower-cased by their analyzer or normalizer; see `foldForSearch`).
 */
export function foldAccents(text: string): string {
  return text
    .normalize('NFD')
    .replace(/(\p{Script=Latin})\p{Mn}+/gu, '$1')
    .replace(PLAIN_LETTER, (letter) => PLAIN_LETTERS[letter] ?? letter)
    .normalize('NFC');
}

/** The folded copy of a product name or brand: `foldAccents`, lower-cased ("Søren" → "soren"). */
export function foldForSearch(text: string): string {
  return foldAccents(text).toLowerCase();
}

/**
 * A name or brand as stored: NFC (composed), so a query typed with a composed "â" finds a name the
 * catalogue sent decomposed (a + U+0302; the standard analyzer and keyword fields compare code
 * points). Undefined for null, undefined or an empty string.
 */
export function composed(text: string | null | undefined): string | undefined {
  return text ? text.normalize('NFC') : undefined;
}

/** A category as every index stores it (top-level `category`): composed and lower-cased. */
export function categoryKey(category: string | null | undefined): string | undefined {
  return composed(category)?.toLowerCase();
}

/**
 * A product's name and brand under the alerts' field names (`product.name`, `product.brand`),
 * composed, and again folded (`foldForSearch`): `product.nameFolded : paquerette` finds
 * "Pâquerette", `product.brandFolded : "maison vermeil"` finds "Maison Vermeil" (any case, any
 * accent). The same fields on trend windows, alerts and mentions, so one Kibana query finds all
 * three. Undefined when there is neither.
 */
export function productLabels(
  name: string | null | undefined,
  brand: string | null | undefined,
): Record<string, unknown> | undefined {
  const n = composed(name);
  const b = composed(brand);
  if (n === undefined && b === undefined) return undefined;
  return compact({
    name: n,
    nameFolded: n === undefined ? undefined : foldForSearch(n),
    brand: b,
    brandFolded: b === undefined ? undefined : foldForSearch(b),
  });
}

export function postAction(prefix: string, upload: Upload): IndexAction {
  const timestamp = utc(upload.clientTimestamp);
  return {
    op: 'index',
    family: 'posts',
    index: monthlyIndex(prefix, 'posts', timestamp),
    // A post is one document however many times its upload is delivered.
    id: upload.postId,
    document: {
      '@timestamp': timestamp,
      postId: upload.postId,
      uploadEventId: upload.eventId,
      memberId: upload.memberId,
      caption: upload.caption,
      captionFolded: foldAccents(upload.caption),
      hashtags: upload.hashtags,
      hashtagsFolded: upload.hashtags.map(foldAccents),
      location: locationDocument(upload.location),
      // One field name for the country in every index: one dashboard filter (`country : FR`).
      country: upload.location.country,
      imageUrls: upload.images.map(imageAddress),
      imageCount: upload.images.length,
      clientTimestamp: timestamp,
      receivedAt: utc(upload.receivedAt),
      source: upload.source,
    },
  };
}

/**
 * The photo a mention is about: `${uploadEventId}:${imageIndex}`. The mention document's id,
 * not the mention id (which adds the decision, `:${sku|none}`): re-processing the photo after a
 * model or threshold fix must replace the earlier decision, not add a second document beside it.
 */
export function photoIdOf(mention: Pick<Mention, 'uploadEventId' | 'imageIndex'>): string {
  return `${mention.uploadEventId}:${mention.imageIndex}`;
}

export function mentionAction(prefix: string, mention: Mention): IndexAction {
  const timestamp = utc(mention.eventTime);
  const photoId = photoIdOf(mention);
  const matched =
    mention.kind === 'mention'
      ? {
          sku: mention.sku,
          score: mention.score,
          rank: mention.rank,
          margin: mention.margin,
          // The matched product's facts (the embedder's catalogue at match time), under the
          // fields trend windows and alerts use: one query finds a product's mentions too.
          product: productLabels(mention.name, mention.brand),
          category: categoryKey(mention.category),
        }
      : { candidates: mention.candidates };
  return {
    op: 'index',
    family: 'mentions',
    index: monthlyIndex(prefix, 'mentions', timestamp),
    // One document per photo; the newest decision (by processedAt) wins, a replay rewrites it as is.
    id: photoId,
    version: versionOf(mention.processedAt),
    vectorFields: ['photoEmbedding'],
    document: compact({
      '@timestamp': timestamp,
      mentionId: mention.mentionId,
      uploadEventId: mention.uploadEventId,
      postId: mention.postId,
      memberId: mention.memberId,
      imageIndex: mention.imageIndex,
      photoId,
      imageUrl: mention.imageUrl,
      kind: mention.kind,
      ...matched,
      modelId: mention.modelId,
      location: locationDocument(mention.location),
      country: mention.location.country,
      eventTime: timestamp,
      processedAt: utc(mention.processedAt),
      photoEmbedding: mention.photoEmbedding,
    }),
  };
}

export function trendWindowAction(prefix: string, window: TrendWindow): IndexAction {
  const start = utc(window.windowStart);
  return {
    op: 'index',
    family: 'trend-windows',
    index: monthlyIndex(prefix, 'trend-windows', start),
    id: window.windowId,
    document: compact({
      '@timestamp': start,
      windowId: window.windowId,
      sku: window.sku,
      scope: window.scope,
      country: window.scope.startsWith('country:') ? window.scope.slice('country:'.length) : undefined,
      windowStart: start,
      windowEnd: utc(window.windowEnd),
      sizeMs: window.sizeMs,
      signals: window.signals,
      weightedCount: window.weightedCount,
      distinctMembers: window.distinctMembers,
      countsByKind: window.countsByKind,
      baseline: window.baseline,
      // The window's activity over the SKU's usual (the figure alerts report): what "rising" panels filter on.
      uplift:
        window.baseline > 0 ? Math.round((window.weightedCount / window.baseline) * 1000) / 1000 : undefined,
      score: window.score,
      pValue: window.pValue,
      rising: window.rising,
      // Lower-cased (as the queries lower-case the filter): `Bags` and `bags` are one category.
      category: categoryKey(window.category),
      // Absent for a SKU the catalogue did not name, and on windows written before the aggregator
      // added name and brand.
      product: productLabels(window.name, window.brand),
      emittedAt: utc(window.emittedAt),
    }),
  };
}

export function reorderAlertAction(prefix: string, alert: ReorderAlert): IndexAction {
  // The month comes from the evidence window, part of what the alert id stands for, not from
  // raisedAt (processing time), so a re-raised alert overwrites its first copy.
  const end = utc(alert.windowEnd);
  const photoUrls = alert.photos.map((p) => p.imageUrl);
  return {
    op: 'index',
    family: 'reorder-alerts',
    index: monthlyIndex(prefix, 'reorder-alerts', end),
    id: alert.alertId,
    document: compact({
      '@timestamp': end,
      alertId: alert.alertId,
      episodeId: alert.episodeId,
      sku: alert.sku,
      status: alert.status,
      priority: alert.priority,
      product: compact({
        style: alert.product.style ?? undefined,
        colour: alert.product.colour ?? undefined,
        category: alert.product.category ?? undefined,
        price: alert.product.price ?? undefined,
        // name, nameFolded, brand, brandFolded: as on trend windows and mentions.
        ...productLabels(alert.product.name, alert.product.brand),
      }),
      // The category again where windows and mentions have it, lower-cased like theirs, so one
      // dashboard query (`category : shoes`) keeps the alerts.
      category: categoryKey(alert.product.category),
      score: alert.score,
      pValue: alert.pValue,
      uplift: alert.uplift,
      windowStart: utc(alert.windowStart),
      windowEnd: end,
      raisedAt: utc(alert.raisedAt),
      series: alert.series,
      topRegions: alert.topRegions,
      topCountries: alert.topRegions.map((r) => r.country),
      country: alert.topRegions.length > 0 ? alert.topRegions.map((r) => r.country) : undefined,
      regionShare: Object.fromEntries(alert.topRegions.map((r) => [r.country, r.share])),
      photos: alert.photos,
      photoUrls,
      firstPhotoUrl: photoUrls[0],
      distinctMembers: alert.distinctMembers,
      stock: alert.stock ?? undefined,
      suggestedReorderQty: alert.suggestedReorderQty ?? undefined,
    }),
  };
}

export function alertActionAction(prefix: string, action: AlertAction): IndexAction {
  const at = utc(action.at);
  return {
    op: 'index',
    family: 'alert-actions',
    index: monthlyIndex(prefix, 'alert-actions', at),
    id: action.actionId,
    document: compact({
      '@timestamp': at,
      actionId: action.actionId,
      alertId: action.alertId,
      sku: action.sku,
      action: action.action,
      buyer: action.buyer,
      snoozeUntil: utcOptional(action.snoozeUntil),
      quantity: action.quantity,
      at,
    }),
  };
}

/** `${sku}|${modelId}`, the catalogue-embeddings key: the same id for the upsert and the tombstone. */
export function catalogueId(sku: string, modelId: string): string {
  return `${sku}|${modelId}`;
}

export function catalogueAction(prefix: string, embedding: CatalogueEmbedding): IndexAction {
  const updatedAt = utc(embedding.updatedAt);
  return {
    op: 'index',
    family: 'catalogue',
    index: catalogueIndex(prefix),
    id: catalogueId(embedding.sku, embedding.modelId),
    // Several keys (`<sku>|<model>@<descriptor>` of each descriptor, and the legacy `<sku>|<model>`)
    // write this document from different partitions: the newest record (updatedAt) wins.
    version: versionOf(updatedAt),
    vectorFields: ['views.vector'],
    document: compact({
      '@timestamp': updatedAt,
      sku: embedding.sku,
      modelId: embedding.modelId,
      descriptor: embedding.descriptor,
      dimension: embedding.dimension,
      style: embedding.style ?? undefined,
      colour: embedding.colour ?? undefined,
      name: composed(embedding.name),
      category: embedding.category ?? undefined,
      brand: composed(embedding.brand),
      price: embedding.price ?? undefined,
      updatedAt,
      views: embedding.views.map((v) =>
        compact({ view: v.view, contentHash: v.contentHash, imageUrl: v.imageUrl, vector: v.vector }),
      ),
    }),
  };
}

/**
 * A tombstone on catalogue-embeddings: the SKU left the catalogue (for that model). Its key is
 * `<sku>|<modelId>@<descriptor>` or the earlier `<sku>|<modelId>`; the document is per SKU and model.
 */
export function catalogueDeleteAction(prefix: string, key: string): IndexAction {
  const bar = key.indexOf('|');
  const at = key.indexOf('@', bar);
  const id = bar >= 0 && at > bar ? key.slice(0, at) : key;
  return { op: 'delete', family: 'catalogue', index: catalogueIndex(prefix), id };
}
