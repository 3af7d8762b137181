/** Helpers for integration tests that query documents they index themselves. */
import type { Client } from '@elastic/elasticsearch';
import { expect } from 'vitest';
import { applyIndices } from '../../shared/elasticsearch/apply.ts';
import { indexUntilSettled } from '../../shared/elasticsearch/bulk.ts';
import type { IndexAction } from '../../shared/elasticsearch/documents.ts';

/** Creates the prefix's indices (months around `now`), indexes `actions`, all accepted, and refreshes. */
export async function indexForQueries(
  es: Client,
  prefix: string,
  now: Date,
  actions: IndexAction[],
): Promise<void> {
  await applyIndices(es, { prefix, retentionDays: 400, now });
  const results = await indexUntilSettled(es, actions, { backoff: { initialMs: 100, maxMs: 1000 } });
  expect(results.filter((r) => r.status !== 'indexed')).toEqual([]);
  await es.indices.refresh({ index: `${prefix}-*` });
}
