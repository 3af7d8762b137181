/**
 * Retention without ILM (this Elasticsearch distribution has none): whole monthly indices are
 * deleted once their month ended more than `retentionDays` ago. The indexer runs this on a
 * node-cron schedule; `trend-radar es retention` runs it once. Where ILM exists, `es apply` also
 * installs infra/elasticsearch/ilm-policy.json, but this job stays the authority because ILM ages
 * an index from its creation, not from the event time of its documents.
 */
import type { Client } from '@elastic/elasticsearch';
import { FAMILIES, indexPattern, monthEnd } from './indices.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The indices among `indices` that are past retention; the current month never is. */
export function expiredIndices(
  prefix: string,
  indices: string[],
  now: Date,
  retentionDays: number,
): string[] {
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  const expired: string[] = [];
  for (const index of indices) {
    for (const family of FAMILIES.filter((f) => f.timeBased)) {
      const end = monthEnd(prefix, family.id, index);
      if (end && end.getTime() <= cutoff) expired.push(index);
    }
  }
  return expired.sort();
}

export async function deleteExpiredIndices(
  client: Client,
  prefix: string,
  retentionDays: number,
  now = new Date(),
): Promise<string[]> {
  const patterns = FAMILIES.filter((f) => f.timeBased).map((f) => indexPattern(prefix, f.id));
  const existing = await client.indices.get({
    index: patterns.join(','),
    allow_no_indices: true,
    ignore_unavailable: true,
    filter_path: '*.settings.index.provided_name',
  });
  const expired = expiredIndices(prefix, Object.keys(existing ?? {}), now, retentionDays);
  // One request per index: a wildcard or list delete would be refused when destructive_requires_name is set.
  for (const index of expired) await client.indices.delete({ index, ignore_unavailable: true });
  return expired;
}
