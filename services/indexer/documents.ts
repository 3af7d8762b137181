/**
 * What the indexer adds to the documents projected by shared/elasticsearch/documents.ts, for the
 * merchandisers' dashboards (docs/kibana.md):
 *
 *   - `country`, one field name in every index for one dashboard filter (`country : FR`): the code
 *     of a post's or mention's location (also in `location.country`), the countries of an alert's
 *     top regions (also in `topCountries`), and on trend windows the country of a `country:XX`
 *     scope, as before (global windows have none);
 *   - browsable photo links beside the stored photo addresses (`imageUrls`, `imageUrl`,
 *     `photoUrls`, `firstPhotoUrl` keep `blob:sha256:…` for uploaded bytes): `photoLinks` (posts,
 *     alerts), `photoLink` (mentions), `firstPhotoLink` (alerts). An https/http address is its own
 *     link; a blob reference becomes `<INDEXER_PHOTO_BASE_URL>/blobs/sha256/<hex>`, the notifier's
 *     blob route, when that base URL is set, and has no link otherwise;
 *   - `uplift` on trend windows: weightedCount / baseline, the window's activity over the SKU's
 *     usual activity (the figure alerts report), which the "Rising products" panel filters on.
 *
 * Pure, like the projection it extends: the same record always gives the same document.
 */
import type { IndexAction } from '../../shared/elasticsearch/documents.ts';

export interface EnrichOptions {
  /** Public base URL of the notifier (its `/blobs/sha256/<hex>` route serves uploaded photos). */
  photoBaseUrl?: string | undefined;
}

const BLOB_REF = /^blob:sha256:([0-9a-f]{64})$/;

/**
 * A link a browser can open for a photo address, or undefined: http(s) URLs as they are, a blob
 * reference under `base` (kept as a directory: a path prefix such as https://host/radar/ stays,
 * and the slash is never doubled, as the notifier's own links), anything else none.
 */
export function photoLink(address: string, base?: string): string | undefined {
  const digest = BLOB_REF.exec(address)?.[1];
  if (digest) {
    if (!base) return undefined;
    return new URL(`blobs/sha256/${digest}`, base.endsWith('/') ? base : `${base}/`).href;
  }
  try {
    const { protocol } = new URL(address);
    return protocol === 'https:' || protocol === 'http:' ? address : undefined;
  } catch {
    return undefined;
  }
}

const linksOf = (addresses: unknown, base?: string): string[] =>
  Array.isArray(addresses)
    ? addresses.flatMap((a) => {
        const link = typeof a === 'string' ? photoLink(a, base) : undefined;
        return link ? [link] : [];
      })
    : [];

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The action with the indexer's extra fields in its document (a new object; deletes unchanged). */
export function enrichAction(action: IndexAction, options: EnrichOptions = {}): IndexAction {
  if (action.op !== 'index') return action;
  const doc = action.document;
  const base = options.photoBaseUrl;
  const extra: Record<string, unknown> = {};
  switch (action.family) {
    case 'posts': {
      extra.country = (doc.location as { country?: string } | undefined)?.country;
      const links = linksOf(doc.imageUrls, base);
      if (links.length > 0) extra.photoLinks = links;
      break;
    }
    case 'mentions': {
      extra.country = (doc.location as { country?: string } | undefined)?.country;
      extra.photoLink = typeof doc.imageUrl === 'string' ? photoLink(doc.imageUrl, base) : undefined;
      break;
    }
    case 'trend-windows': {
      const weighted = Number(doc.weightedCount);
      const baseline = Number(doc.baseline);
      if (baseline > 0 && Number.isFinite(weighted)) extra.uplift = round3(weighted / baseline);
      break;
    }
    case 'reorder-alerts': {
      const countries = doc.topCountries as string[] | undefined;
      if (countries && countries.length > 0) extra.country = countries;
      const links = linksOf(doc.photoUrls, base);
      if (links.length > 0) {
        extra.photoLinks = links;
        extra.firstPhotoLink = links[0];
      }
      break;
    }
    default:
      return action;
  }
  const defined = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined));
  return { ...action, document: { ...doc, ...defined } };
}
