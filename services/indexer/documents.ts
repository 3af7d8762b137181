/**
 * What the indexer adds to the documents projected by shared/elasticsearch/documents.ts: browsable
 * photo links beside the stored photo addresses (`imageUrls`, `imageUrl`, `photoUrls`,
 * `firstPhotoUrl` keep `blob:sha256:…` for uploaded bytes), for the merchandisers' dashboards
 * (docs/kibana.md): `photoLinks` (posts, alerts), `photoLink` (mentions), `firstPhotoLink`
 * (alerts). An https/http address is its own link; a blob reference becomes
 * `<INDEXER_PHOTO_BASE_URL>/blobs/sha256/<hex>`, the notifier's blob route, when that base URL is
 * set, and has no link otherwise. It depends on a setting, so it is not part of the projection.
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

/** The action with the photo links in its document (a new object; other actions unchanged). */
export function enrichAction(action: IndexAction, options: EnrichOptions = {}): IndexAction {
  if (action.op !== 'index') return action;
  const doc = action.document;
  const base = options.photoBaseUrl;
  const extra: Record<string, unknown> = {};
  switch (action.family) {
    case 'posts': {
      const links = linksOf(doc.imageUrls, base);
      if (links.length > 0) extra.photoLinks = links;
      break;
    }
    case 'mentions': {
      const link = typeof doc.imageUrl === 'string' ? photoLink(doc.imageUrl, base) : undefined;
      if (link) extra.photoLink = link;
      break;
    }
    case 'reorder-alerts': {
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
  return { ...action, document: { ...doc, ...extra } };
}
