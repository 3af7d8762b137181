/**
 * The index families of a deployment and how they are laid out:
 *   time-based families: monthly indices `${prefix}-${family}-YYYY.MM` chosen by the document's
 *     event time (so a replayed event lands in the same index and overwrites), read through the
 *     alias `${prefix}-${family}` that the index template attaches to every new month;
 *   the catalogue: one index `${prefix}-catalogue-v1` behind the alias `${prefix}-catalogue`.
 * Retention deletes whole months (see retention.ts); no document is ever deleted one by one.
 */
import {
  alertActionsMapping,
  catalogueMapping,
  mentionsMapping,
  postsMapping,
  reorderAlertsMapping,
  trendWindowsMapping,
} from '../../infra/elasticsearch/mappings.ts';
import { indexName } from './client.ts';

export type FamilyId =
  | 'posts'
  | 'mentions'
  | 'trend-windows'
  | 'reorder-alerts'
  | 'alert-actions'
  | 'catalogue';

export interface IndexFamily {
  id: FamilyId;
  description: string;
  mapping: Record<string, unknown>;
  timeBased: boolean;
}

export const FAMILIES: readonly IndexFamily[] = [
  {
    id: 'posts',
    description: 'member uploads: caption, hashtags, place, photos',
    mapping: postsMapping,
    timeBased: true,
  },
  {
    id: 'mentions',
    description: 'SKUs recognised in photos (and no-match records), with the photo descriptor',
    mapping: mentionsMapping,
    timeBased: true,
  },
  {
    id: 'trend-windows',
    description: 'closed windows per SKU and scope: counts, baseline, score, rising',
    mapping: trendWindowsMapping,
    timeBased: true,
  },
  {
    id: 'reorder-alerts',
    description: 'reorder alerts with their evidence',
    mapping: reorderAlertsMapping,
    timeBased: true,
  },
  {
    id: 'alert-actions',
    description: "buyers' responses to alerts",
    mapping: alertActionsMapping,
    timeBased: true,
  },
  {
    id: 'catalogue',
    description: 'catalogue products with one vector per view (nested)',
    mapping: catalogueMapping,
    timeBased: false,
  },
];

export function family(id: FamilyId): IndexFamily {
  const found = FAMILIES.find((f) => f.id === id);
  if (!found) throw new Error(`unknown index family ${id}`);
  return found;
}

/** What queries and Kibana read: the alias over every index of the family. */
export function aliasName(prefix: string, id: FamilyId): string {
  return indexName(prefix, id);
}

/** The pattern the family's index template matches (never the alias itself). */
export function indexPattern(prefix: string, id: FamilyId): string {
  return `${aliasName(prefix, id)}-*`;
}

/** The catalogue's one physical index; a new generation would be `-v2` with the alias moved. */
export function catalogueIndex(prefix: string): string {
  return `${aliasName(prefix, 'catalogue')}-v1`;
}

/** `YYYY.MM` of an instant, in UTC. */
export function monthSuffix(instant: string | Date): string {
  const at = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(at.getTime())) throw new Error(`not a valid instant: ${String(instant)}`);
  return `${at.getUTCFullYear()}.${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The physical index a document of a time-based family belongs to, by its event time. */
export function monthlyIndex(prefix: string, id: FamilyId, instant: string | Date): string {
  return `${aliasName(prefix, id)}-${monthSuffix(instant)}`;
}

/** Parses `${alias}-YYYY.MM` back to the first instant after that month, or null if not one of ours. */
export function monthEnd(prefix: string, id: FamilyId, index: string): Date | null {
  const head = `${aliasName(prefix, id)}-`;
  if (!index.startsWith(head)) return null;
  const match = /^(\d{4})\.(\d{2})$/.exec(index.slice(head.length));
  if (!match) return null;
  const month = Number(match[2]);
  if (month < 1 || month > 12) return null;
  return new Date(Date.UTC(Number(match[1]), month, 1));
}
