/** Helpers for integration tests that query documents they index themselves. */
import type { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, expect } from 'vitest';
import { applyIndices } from '../../shared/elasticsearch/apply.ts';
import { indexUntilSettled } from '../../shared/elasticsearch/bulk.ts';
import type { IndexAction } from '../../shared/elasticsearch/documents.ts';
import { deleteIndices } from './run-cleanup.ts';

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

/**
 * The hooks of a test file that queries `actions` only: indexed before its tests, and the prefix's
 * indices deleted and the client closed after them.
 */
export function withIndexedForQueries(
  es: Client,
  prefix: string,
  now: Date,
  actions: () => IndexAction[],
): void {
  beforeAll(() => indexForQueries(es, prefix, now, actions()));
  afterAll(async () => {
    await deleteIndices(es, prefix);
    await es.close();
  });
}
