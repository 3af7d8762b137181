/**
 * The indexer's batch handler: a chunk of records from one partition becomes one bulk request.
 *   - a record that breaks its topic contract → dead (dead-letter topic) before Elasticsearch sees it;
 *   - a document Elasticsearch rejects (mapping error, …) → dead with Elasticsearch's reason, except
 *     a rejection of its vector (another dimension): indexed without the vector (bulk.ts);
 *   - an older version of a mention or catalogue document than the indexed one → done (superseded);
 *   - Elasticsearch unavailable, 429 or 5xx → the handler waits here, heartbeating, until the
 *     node answers: the runner's `maxAttempts` is for records that fail, not for an outage,
 *     which must stall the partition rather than send everything to the dead-letter topic;
 *   - the chunk given back (the runner stopping, the group rebalancing: `context.signal`, or a
 *     heartbeat refused) → the request in flight is aborted and what is not indexed yet is `retry`,
 *     left uncommitted for whoever owns the partition next;
 *   - everything else → done, and the runner commits the offsets after this returns.
 */
import type { Client } from '@elastic/elasticsearch';
import type { z } from 'zod';
import {
  AlertAction,
  CatalogueEmbedding,
  Mention,
  ReorderAlert,
  TrendWindow,
  Upload,
} from '../../shared/contracts/events.ts';
import { topicName, topicSpec } from '../../shared/contracts/topics.ts';
import { type ItemResult, indexUntilSettled, NOT_SENT } from '../../shared/elasticsearch/bulk.ts';
import {
  alertActionAction,
  catalogueAction,
  catalogueDeleteAction,
  type IndexAction,
  mentionAction,
  postAction,
  reorderAlertAction,
  trendWindowAction,
} from '../../shared/elasticsearch/documents.ts';
import { decode, InvalidRecordError, PermanentError } from '../../shared/kafka/codec.ts';
import type { BatchHandler, InboundRecord, Outcome } from '../../shared/kafka/consumer-runner.ts';
import { type EnrichOptions, enrichAction } from './documents.ts';
import type { IndexedTopic } from './indexed-topics.ts';

/** A document Elasticsearch refused; the message carries Elasticsearch's reason to the DLQ headers. */
export class DocumentRejectedError extends PermanentError {
  override name = 'DocumentRejectedError';
}

/**
 * Turns one record of `topic` into its index action (the shared projection plus the indexer's
 * extra fields, services/indexer/documents.ts), or throws InvalidRecordError.
 */
export function actionFor(
  topic: IndexedTopic,
  prefix: string,
  record: Pick<InboundRecord, 'key' | 'value'>,
  options: EnrichOptions = {},
): IndexAction {
  return enrichAction(projectedAction(topic, prefix, record), options);
}

function projectedAction(
  topic: IndexedTopic,
  prefix: string,
  record: Pick<InboundRecord, 'key' | 'value'>,
): IndexAction {
  switch (topic) {
    case 'uploads':
      return postAction(prefix, decode(Upload, record.value));
    case 'mentions':
      return mentionAction(prefix, decode(Mention, record.value));
    case 'trend-windows':
      return trendWindowAction(prefix, decode(TrendWindow, record.value));
    case 'reorder-alerts':
      return reorderAlertAction(prefix, decode(ReorderAlert, record.value));
    case 'alert-actions':
      return alertActionAction(prefix, decode(AlertAction, record.value));
    case 'catalogue-embeddings': {
      const key = record.key?.toString('utf8') ?? '';
      const parsedKey = (topicSpec('catalogue-embeddings').key as z.ZodType<string>).safeParse(key);
      if (!parsedKey.success) throw new InvalidRecordError(`bad catalogue key ${JSON.stringify(key)}`);
      if (record.value === null) return catalogueDeleteAction(prefix, key);
      return catalogueAction(prefix, decode(CatalogueEmbedding, record.value));
    }
  }
}

export interface IndexerHandlerOptions {
  client: Client;
  namespace: string;
  prefix: string;
  topics: readonly IndexedTopic[];
  /** INDEXER_PHOTO_BASE_URL: where blob photo references become links (see documents.ts). */
  photoBaseUrl?: string | undefined;
  /** INDEXER_MAX_FUTURE_SKEW_MS: how far ahead of `now` a document's time may be. */
  maxFutureSkewMs: number;
  /** The wall clock (tests fix it). */
  now?: () => number;
  backoff: { initialMs: number; maxMs: number };
  isStopping: () => boolean;
  /** Told how long the handler waited for Elasticsearch, and how each document ended. */
  onWait?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** Elasticsearch answered a bulk request (it is reachable). */
  onAnswered?: () => void;
  onResults?: (family: string, results: ItemResult[]) => void;
}

export function indexerHandler(options: IndexerHandlerOptions): BatchHandler {
  const topicIds = new Map<string, IndexedTopic>(
    options.topics.map((id) => [topicName(id, options.namespace), id]),
  );
  return async (records, context) => {
    const outcomes: Outcome[] = new Array(records.length);
    const actions: IndexAction[] = [];
    const positions: number[] = [];
    records.forEach((record, i) => {
      const topic = topicIds.get(record.topic);
      if (!topic) {
        outcomes[i] = {
          kind: 'dead',
          error: new PermanentError(`the indexer does not index topic ${record.topic}`),
        };
        return;
      }
      try {
        const action = actionFor(topic, options.prefix, record, { photoBaseUrl: options.photoBaseUrl });
        refuseFutureTime(action, (options.now ?? Date.now)(), options.maxFutureSkewMs);
        actions.push(action);
        positions.push(i);
      } catch (error) {
        outcomes[i] = error instanceof PermanentError ? { kind: 'dead', error } : { kind: 'retry', error };
      }
    });

    // A failed heartbeat means the group is rebalancing: give the chunk back uncommitted rather
    // than keep waiting for Elasticsearch on a partition that may no longer be ours.
    let heartbeatFailed = false;
    const results = await indexUntilSettled(options.client, actions, {
      backoff: options.backoff,
      shouldStop: () => heartbeatFailed || options.isStopping(),
      ...(context.signal ? { signal: context.signal } : {}),
      ...(options.onAnswered ? { onAnswered: options.onAnswered } : {}),
      onWait: async (info) => {
        options.onWait?.(info);
        await context.heartbeat().catch(() => {
          heartbeatFailed = true;
        });
      },
    });
    results.forEach((result, j) => {
      const i = positions[j]!;
      if (result.status === 'indexed') outcomes[i] = { kind: 'done' };
      else if (result.status === 'rejected')
        outcomes[i] = {
          kind: 'dead',
          error: new DocumentRejectedError(`Elasticsearch rejected the document: ${result.reason}`),
        };
      // Only when the chunk is given back: the runner does not commit it, the partition's next
      // owner (this indexer after a rebalance or a restart) gets it again.
      else
        outcomes[i] = {
          kind: 'retry',
          error: new Error(
            `not indexed, the chunk is given back uncommitted (${givenBackBecause(context.signal, heartbeatFailed, options.isStopping())}); ` +
              `Elasticsearch: ${result.reason === NOT_SENT ? 'no answer' : result.reason}`,
          ),
        };
    });
    if (actions.length > 0) options.onResults?.(actions[0]!.family, results);
    return outcomes;
  };
}

/**
 * Throws when a document of a monthly family is dated more than `skewMs` ahead of `now`: its
 * time picks the index. Ingest and the aggregator refuse such times, but a record written to a
 * topic by another producer reached Elasticsearch and opened an index 200 days ahead (an audit).
 * The catalogue is one index, whatever its dates.
 */
function refuseFutureTime(action: IndexAction, now: number, skewMs: number): void {
  if (action.op !== 'index' || action.family === 'catalogue') return;
  const stamp = action.document['@timestamp'];
  if (typeof stamp !== 'string' || Date.parse(stamp) <= now + skewMs) return;
  throw new InvalidRecordError(
    `event time ${stamp} is more than ${skewMs} ms ahead of this clock (${new Date(now).toISOString()}): ` +
      'not indexed, it would open a future monthly index (INDEXER_MAX_FUTURE_SKEW_MS)',
  );
}

/** Why the handler let go of a chunk before every record was indexed or rejected. */
function givenBackBecause(
  signal: AbortSignal | undefined,
  heartbeatFailed: boolean,
  stopping: boolean,
): string {
  if (signal?.aborted)
    return signal.reason instanceof Error ? signal.reason.message : 'the runner gave it back';
  if (stopping) return 'the indexer is stopping';
  if (heartbeatFailed)
    return 'a heartbeat failed: the group is rebalancing, the partition may have been revoked';
  return 'given up';
}
