/**
 * Bulk indexing that tells a bad document from a bad moment:
 *   per item: 2xx (and 404 on delete) → indexed; 429 or 5xx → try again; any other 4xx (mapping
 *     errors, bad ids) → rejected, with Elasticsearch's reason;
 *   whole request: connection refused/reset, timeouts, 429, 5xx, 401/403/404 → Elasticsearch is
 *     unavailable (or unreachable as configured), wait (exponential backoff, capped) and send again,
 *     for as long as it takes; 400 and 413 throw, and the runner isolates the record responsible.
 *   409 version conflict on an externally versioned document → a newer version is already
 *     indexed: the goal holds (`indexed`, note `superseded`);
 *   a document rejected because of one of its vector fields (another dimension than the index's,
 *     zero magnitude) → indexed again without its vectors (`indexed`, note `without-vector`), so
 *     its SKU, score, location… stay searchable.
 * `indexUntilSettled` returns only when every action is indexed or rejected, or when asked to stop
 * (`shouldStop`, or `signal`, which also aborts the request in flight).
 */
import { type Client, errors } from '@elastic/elasticsearch';
import { type IndexAction, withoutVectors } from './documents.ts';

export type ItemResult =
  | {
      status: 'indexed';
      /**
       * `superseded`: not written because a newer version was already indexed;
       * `without-vector`: written without its vector fields, which Elasticsearch refused (`reason`).
       */
      note?: 'superseded' | 'without-vector';
      reason?: string;
    }
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
  // Only external versions conflict here (no if_seq_no is ever sent): a newer event is indexed.
  if (status === 409 && item.error?.type === 'version_conflict_engine_exception')
    return { status: 'indexed', note: 'superseded', reason };
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

/**
 * True when Elasticsearch refused the document because of one of its vector fields: a
 * `dense_vector` parse error (another dimension than the mapping's, not numbers) or a zero
 * vector under cosine similarity. Those are the only vector errors; anything else is not.
 */
export function isVectorRejection(reason: string, vectorFields: readonly string[]): boolean {
  if (vectorFields.length === 0) return false;
  if (/\[dense_vector\]|type \[dense_vector\]|vectors with zero magnitude/.test(reason)) return true;
  return vectorFields.some((field) => reason.includes(`[${field}]`));
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
      operations.push(
        {
          index: {
            _index: action.index,
            _id: action.id,
            ...(action.version !== undefined
              ? { version: action.version, version_type: 'external_gte' }
              : {}),
          },
        },
        action.document,
      );
    else operations.push({ delete: { _index: action.index, _id: action.id } });
  }
  return operations;
}

/** One bulk request; throws when the request itself fails (see `isUnavailable`) or is aborted. */
export async function bulkOnce(
  client: Client,
  actions: IndexAction[],
  signal?: AbortSignal,
): Promise<ItemResult[]> {
  if (actions.length === 0) return [];
  const response = await client.bulk({ operations: bulkOperations(actions) }, signal ? { signal } : {});
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
  /** Aborting it aborts the request in flight, and the remaining actions come back as `retry`. */
  signal?: AbortSignal;
  /** Called each time Elasticsearch answered a bulk request (item results came back). */
  onAnswered?: () => void;
  sleep?: (ms: number) => Promise<void>;
}

/** The reason of an action no bulk request answered for yet. */
export const NOT_SENT = 'not sent yet';

/** Waits `ms`, or less if `signal` aborts meanwhile. */
function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function indexUntilSettled(
  client: Client,
  actions: IndexAction[],
  options: SettleOptions,
): Promise<ItemResult[]> {
  const results: ItemResult[] = actions.map(() => ({ status: 'retry', reason: NOT_SENT }));
  const { signal } = options;
  const stop = () => signal?.aborted === true || options.shouldStop?.() === true;
  // What is sent: an action Elasticsearch refused for its vectors is replaced by the same without them.
  const sending = [...actions];
  const droppedVectors = new Map<number, string>();
  let pending = actions.map((_, i) => i);
  const sleep = options.sleep ?? ((ms: number) => defaultSleep(ms, signal));
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (signal?.aborted) break;
    let reason: string;
    try {
      const itemResults = await bulkOnce(
        client,
        pending.map((i) => sending[i]!),
        signal,
      );
      options.onAnswered?.();
      const again: number[] = [];
      const stripped: number[] = [];
      itemResults.forEach((result, j) => {
        const index = pending[j]!;
        const action = sending[index]!;
        if (
          result.status === 'rejected' &&
          action.op === 'index' &&
          isVectorRejection(result.reason, action.vectorFields ?? [])
        ) {
          sending[index] = withoutVectors(action);
          droppedVectors.set(index, result.reason);
          stripped.push(index);
          return;
        }
        const dropped = droppedVectors.get(index);
        results[index] =
          result.status === 'indexed' && dropped !== undefined && !result.note
            ? { status: 'indexed', note: 'without-vector', reason: dropped }
            : result;
        if (result.status === 'retry') again.push(index);
      });
      // Sent again at once, without their vectors: not a failure to back off from.
      if (stripped.length > 0) {
        pending = [...stripped, ...again].sort((a, b) => a - b);
        attempt--;
        continue;
      }
      pending = again;
      if (pending.length === 0) break;
      reason = (results[pending[0]!] as { reason: string }).reason;
    } catch (error) {
      // Aborted on purpose: what is left is given back, unanswered.
      if (signal?.aborted) break;
      if (!isUnavailable(error)) throw error;
      reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    if (stop()) break;
    const delayMs = Math.min(
      options.backoff.maxMs,
      options.backoff.initialMs * 2 ** Math.min(attempt - 1, 20),
    );
    await options.onWait?.({ attempt, delayMs, reason });
    if (stop()) break;
    await sleep(delayMs);
    if (stop()) break;
  }
  return results;
}
