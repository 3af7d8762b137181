/**
 * Bulk indexing that tells a bad document from a bad moment:
 *   per item: 2xx (and 404 on delete) → indexed; 429 or 5xx → try again; any other 4xx (mapping
 *     errors, bad ids) → rejected, with Elasticsearch's reason;
 *   whole request: connection refused/reset, timeouts, 429, 5xx, 401/403/404 → Elasticsearch is
 *     unavailable (or unreachable as configured), wait (exponential backoff, capped) and send again,
 *     for as long as it takes; 400 and 413 throw, and the runner isolates the record responsible.
 * `indexUntilSettled` returns only when every action is indexed or rejected, or when asked to stop.
 */
import { type Client, errors } from '@elastic/elasticsearch';
import type { IndexAction } from './documents.ts';

export type ItemResult =
  | { status: 'indexed' }
  | { status: 'retry'; reason: string }
  | { status: 'rejected'; reason: string };

export interface BulkItemResponse {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } } | undefined;
}

export function classifyItem(op: IndexAction['op'], item: BulkItemResponse): ItemResult {
  const { status } = item;
  if (status >= 200 && status < 300) return { status: 'indexed' };
  if (op === 'delete' && status === 404) return { status: 'indexed' }; // already gone: the goal holds
  const reason = describeItemError(item);
  if (status === 429 || status >= 500) return { status: 'retry', reason };
  return { status: 'rejected', reason };
}

export function describeItemError(item: BulkItemResponse): string {
  const { error } = item;
  if (!error) return `status ${item.status}`;
  const cause =
    error.caused_by?.reason && error.caused_by.reason !== error.reason ? ` (${error.caused_by.reason})` : '';
  return `${error.type ?? 'error'}: ${error.reason ?? 'no reason given'}${cause}`;
}

/** True for failures of the request as a whole that will pass: the node is down, busy or restarting. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof errors.ConnectionError || error instanceof errors.TimeoutError) return true;
  if (error instanceof errors.NoLivingConnectionsError) return true;
  if (error instanceof errors.ResponseError) {
    // No item results came back, so no document is to blame: 429/5xx are load or outage, and
    // 401/403/404 are credentials or a proxy in the way, which also need a person, not the DLQ.
    // Only a request Elasticsearch could not parse (400) or too large (413) points at the records.
    const status = error.meta.statusCode ?? 0;
    return status !== 400 && status !== 413;
  }
  return false;
}

/** The bulk body for `actions`, in order. */
export function bulkOperations(actions: IndexAction[]): unknown[] {
  const operations: unknown[] = [];
  for (const action of actions) {
    if (action.op === 'index')
      operations.push({ index: { _index: action.index, _id: action.id } }, action.document);
    else operations.push({ delete: { _index: action.index, _id: action.id } });
  }
  return operations;
}

/** One bulk request; throws when the request itself fails (see `isUnavailable`). */
export async function bulkOnce(client: Client, actions: IndexAction[]): Promise<ItemResult[]> {
  if (actions.length === 0) return [];
  const response = await client.bulk({ operations: bulkOperations(actions) });
  return response.items.map((entry, i) => {
    const item = Object.values(entry)[0] as BulkItemResponse;
    return classifyItem(actions[i]!.op, item);
  });
}

export interface SettleOptions {
  backoff: { initialMs: number; maxMs: number };
  /** Called while waiting for Elasticsearch (the indexer heartbeats Kafka here). */
  onWait?: (info: { attempt: number; delayMs: number; reason: string }) => Promise<void>;
  /** Checked between attempts: when true, the remaining actions come back as `retry`. */
  shouldStop?: () => boolean;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function indexUntilSettled(
  client: Client,
  actions: IndexAction[],
  options: SettleOptions,
): Promise<ItemResult[]> {
  const results: ItemResult[] = actions.map(() => ({ status: 'retry', reason: 'not sent yet' }));
  let pending = actions.map((_, i) => i);
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; pending.length > 0; attempt++) {
    let reason: string;
    try {
      const itemResults = await bulkOnce(
        client,
        pending.map((i) => actions[i]!),
      );
      const again: number[] = [];
      itemResults.forEach((result, j) => {
        const index = pending[j]!;
        results[index] = result;
        if (result.status === 'retry') again.push(index);
      });
      pending = again;
      if (pending.length === 0) break;
      reason = (results[pending[0]!] as { reason: string }).reason;
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    if (options.shouldStop?.()) break;
    const delayMs = Math.min(
      options.backoff.maxMs,
      options.backoff.initialMs * 2 ** Math.min(attempt - 1, 20),
    );
    await options.onWait?.({ attempt, delayMs, reason });
    await sleep(delayMs);
    if (options.shouldStop?.()) break;
  }
  return results;
}
