/**
 * The ingest HTTP API. Order of checks per request: API key (before the body is read), rate limit
 * per key, body size and syntax, contract validation per item, SSRF rules for image URLs, blob
 * writes (only once the whole upload is valid), then Kafka; 202 only after the broker acknowledged.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Message, Producer } from 'kafkajs';
import { type BlobStore, blobRefOf } from '../../shared/blobstore/blob-store.ts';
import type { Interaction } from '../../shared/contracts/events.ts';
import { topicName } from '../../shared/contracts/topics.ts';
import { assertFetchableUrl, DnsUnavailableError, ForbiddenUrlError } from '../../shared/net/ssrf.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import { Counter, Histogram, type Registry } from '../../shared/observability/metrics.ts';
import { checkHeifDecodable, decodableFormatsList } from '../../shared/vision/heif-support.ts';
import type { ApiKeyStore } from './api-keys.ts';
import type { IngestConfig } from './config.ts';
import { openApiDocument } from './openapi.ts';
import {
  ProduceBatcher,
  ProduceTimeoutError,
  RecordTooLargeError,
  type TopicRecord,
} from './produce-batcher.ts';
import { recordHeaders } from './record-headers.ts';
import {
  isHeifContainer,
  itemsOfJsonBatch,
  itemsOfNdjsonBatch,
  sniffImageType,
  type ValidationContext,
  validateInteraction,
  validateUpload,
} from './validation.ts';

declare module 'fastify' {
  interface FastifyRequest {
    apiKeyName: string;
  }
}

export interface IngestDeps {
  producer: Pick<Producer, 'sendBatch'>;
  blobStore: BlobStore;
  apiKeys: ApiKeyStore;
  registry: Registry;
  logger: Logger;
  /**
   * Whether the broker can take this service's records (used by /readyz, and after a send failed
   * or timed out: while it cannot, requests get 503 at once instead of queueing), and if not, why:
   * unreachable, or reachable without a topic the service writes. Should settle within a few
   * seconds; a rejection counts as unreachable.
   */
  checkBroker: () => Promise<BrokerStatus>;
  /** DNS resolver for the SSRF rules; replaceable in tests. */
  resolveHost?: (host: string) => Promise<string[]>;
  now?: () => number;
}

export interface IngestServer {
  app: FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;
  batcher: ProduceBatcher;
  /** Marks the service as draining: /readyz answers 503 so load balancers stop sending. */
  drain(): void;
}

/** What a look at the broker found. */
export type BrokerStatus =
  | { ok: true }
  | { ok: false; problem: 'unreachable'; detail?: string }
  /** The broker answers, but without `missing` (broker-side names); `fix` is the command that creates them. */
  | { ok: false; problem: 'topics-missing'; missing: readonly string[]; fix: string };
type BrokerProblem = Exclude<BrokerStatus, { ok: true }>;

/** The reason a 503 and /readyz give for a broker problem (the 503 adds "retry with the same event ids"). */
export function brokerProblemReason(problem: BrokerProblem): string {
  if (problem.problem === 'unreachable') return 'the event log (Kafka) is unreachable';
  const topics = problem.missing.length === 1 ? 'topic' : 'topics';
  return `the event log (Kafka) answers but lacks the ${topics} ${problem.missing.join(', ')} (an operator must create them: ${problem.fix})`;
}

const sameProblem = (a: BrokerProblem | undefined, b: BrokerProblem | undefined) =>
  a?.problem === b?.problem &&
  (a?.problem !== 'topics-missing' ||
    (b?.problem === 'topics-missing' && a.missing.join() === b.missing.join()));

type ErrorBody = { error: string; reason: string };

const fail = (reply: FastifyReply, status: number, error: string, reason: string) =>
  reply.code(status).send({ error, reason } satisfies ErrorBody);

/** Retry-After (seconds) of a 503 `broker-unavailable`. */
export const BROKER_RETRY_AFTER_S = 5;
/** While the broker is known unreachable, a request looks again at most this often (in the background). */
const BROKER_RECHECK_MS = 1_000;

/** A request refused because the broker is known unable to take it (queued ones are withdrawn too). */
class BrokerUnreachableError extends Error {
  override name = 'BrokerUnreachableError';
}

/** `Content-Encoding` values that leave the body as it is; any other coding is refused (415). */
const IDENTITY_ENCODING = /^\s*(identity\s*(,\s*identity\s*)*)?$/i;

export function buildIngestServer(config: IngestConfig, deps: IngestDeps): IngestServer {
  const now = deps.now ?? Date.now;
  const topics = {
    uploads: topicName('uploads', config.TOPIC_NAMESPACE),
    interactions: topicName('interactions', config.TOPIC_NAMESPACE),
  };
  const metrics = createMetrics(deps.registry);
  const batcher = new ProduceBatcher(deps.producer, {
    lingerMs: config.INGEST_LINGER_MS,
    maxRecords: config.INGEST_PRODUCER_BATCH_MAX,
    maxBatchBytes: config.INGEST_PRODUCER_BATCH_MAX_BYTES,
    timeoutMs: config.INGEST_PRODUCE_TIMEOUT_MS,
    onSend: (records, seconds, ok) => {
      metrics.sendRecords.observe(records);
      metrics.sendSeconds.observe({ outcome: ok ? 'ok' : 'error' }, seconds);
    },
  });
  let draining = false;

  // What the last look at the broker found (/readyz, or a look after a send failed or timed out):
  // undefined while it can take records, else why not (unreachable, or a topic missing). Until it
  // can, requests are answered 503 at once rather than queued behind a send that kafkajs keeps
  // retrying; a request looks again (in the background) at most once a second.
  let brokerProblem: BrokerProblem | undefined;
  let lookedAt = Number.NEGATIVE_INFINITY;
  let looking: Promise<BrokerProblem | undefined> | undefined;
  const lookAtBroker = (): Promise<BrokerProblem | undefined> => {
    looking ??= deps
      .checkBroker()
      .catch(
        (error: unknown): BrokerStatus => ({
          ok: false,
          problem: 'unreachable',
          detail: error instanceof Error ? error.message : String(error),
        }),
      )
      .then((status) => {
        const problem = status.ok ? undefined : status;
        if (!problem && brokerProblem)
          deps.logger.info(
            brokerProblem.problem === 'unreachable'
              ? 'the broker is reachable again: producing'
              : 'the missing topics exist again: producing',
          );
        if (problem && !sameProblem(problem, brokerProblem)) {
          // The requests queued behind the send kafkajs keeps retrying are answered now too.
          const withdrawn = batcher.withdrawQueued(new BrokerUnreachableError(brokerProblemReason(problem)));
          if (problem.problem === 'unreachable')
            deps.logger.warn(
              { withdrawn, ...(problem.detail ? { detail: problem.detail } : {}) },
              'the broker is unreachable: requests get 503 broker-unavailable at once',
            );
          else
            deps.logger.error(
              { withdrawn, missing: problem.missing, fix: problem.fix },
              `the broker answers but topics this service writes are missing (${problem.missing.join(', ')}): requests get 503 broker-unavailable at once until they are created with \`${problem.fix}\``,
            );
        }
        brokerProblem = problem;
        lookedAt = performance.now();
        looking = undefined;
        return problem;
      });
    return looking;
  };

  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }),
    // Per-request log lines would cost more than the request at batch rates; metrics cover it.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.INGEST_MAX_BODY_BYTES,
    // A `__proto__` key (or `constructor.prototype`) in a JSON body is dropped like any unknown
    // field, instead of failing the whole body (and every valid item of a batch) with 400.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A client's own x-request-id is kept (it travels into the Kafka headers) only if it is sane.
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
    },
  });
  app.decorateRequest('apiKeyName', '');

  // Fastify reads text/plain bodies as strings by default, which the interactions route would take
  // for NDJSON; the API accepts JSON, NDJSON and multipart only (415 otherwise, as documented).
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(
    ['application/x-ndjson', 'application/ndjson'],
    { parseAs: 'string', bodyLimit: config.INGEST_MAX_BODY_BYTES },
    (_request, body, done) => done(null, body),
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return fail(reply, status, 'internal', 'the server failed; retry later');
    }
    const kind =
      status === 413
        ? 'too-large'
        : status === 415
          ? 'unsupported-media-type'
          : status === 429
            ? 'rate-limited'
            : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
              ? 'malformed-json'
              : 'bad-request';
    metrics.rejectedRequests.inc({ reason: kind });
    return fail(reply, status, kind, error.message);
  });
  app.setNotFoundHandler((request, reply) =>
    fail(reply, 404, 'not-found', `no route ${request.method} ${request.url}`),
  );

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // While draining, the answers of the requests still in flight close their connections: a kept-alive
  // connection left idle would hold the listener's close() until the shutdown grace ends.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (draining) reply.header('connection', 'close');
    return payload;
  });

  // Authentication happens before the body is read, so unauthenticated clients cost nothing. It is
  // a hook of the v1 routes themselves (registered in their scope below), not a test of the raw URL:
  // `/%761/…` or an absolute-form `http://host/v1/…` reach the same routes under other spellings.
  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const presented =
      (typeof request.headers['x-api-key'] === 'string' ? request.headers['x-api-key'] : undefined) ??
      (header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined);
    if (!presented) {
      metrics.rejectedRequests.inc({ reason: 'unauthenticated' });
      return fail(
        reply,
        401,
        'unauthenticated',
        'an API key is required (Authorization: Bearer <key> or X-API-Key)',
      );
    }
    const name = deps.apiKeys.authenticate(presented);
    if (!name) {
      metrics.rejectedRequests.inc({ reason: 'unauthenticated' });
      return fail(reply, 401, 'unauthenticated', 'the API key is not valid');
    }
    request.apiKeyName = name;
  };

  app.register(fastifyRateLimit, {
    global: true,
    hook: 'preParsing',
    max: config.INGEST_RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: (request) => request.apiKeyName || request.ip,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: 'rate-limited',
      message: `more than ${context.max} requests per minute for this API key; retry in ${context.after}`,
    }),
  });
  app.register(fastifyMultipart, {
    limits: {
      fileSize: config.INGEST_MAX_IMAGE_BYTES,
      files: 10,
      fields: 5,
      fieldSize: config.INGEST_MAX_BODY_BYTES,
    },
  });

  const context = (request: FastifyRequest): ValidationContext => ({
    now: now(),
    maxFutureSkewMs: config.INGEST_MAX_FUTURE_SKEW_MS,
    maxEventAgeMs: config.INGEST_MAX_EVENT_AGE_MS,
    source: request.apiKeyName,
  });

  const brokerUnavailable = async (reply: FastifyReply, reason: string) => {
    metrics.rejectedRequests.inc({ reason: 'broker-unavailable' });
    await fail(
      reply.header('retry-after', String(BROKER_RETRY_AFTER_S)),
      503,
      'broker-unavailable',
      `${reason}; retry with the same event ids`,
    );
  };

  const produce = async (records: TopicRecord[], reply: FastifyReply): Promise<boolean> => {
    if (brokerProblem) {
      const known = brokerProblem;
      if (!looking && performance.now() - lookedAt >= BROKER_RECHECK_MS) void lookAtBroker();
      await brokerUnavailable(reply, brokerProblemReason(known));
      return false;
    }
    // Back-pressure: when the broker falls behind, refuse early instead of queueing without bound.
    if (batcher.waiting + records.length > config.INGEST_MAX_PENDING_RECORDS) {
      metrics.rejectedRequests.inc({ reason: 'overloaded' });
      await reply.header('retry-after', '1').code(503).send({
        error: 'overloaded',
        reason: 'too many records are waiting for the broker; retry shortly with the same event ids',
      });
      return false;
    }
    try {
      await batcher.produce(records);
      return true;
    } catch (error) {
      if (error instanceof RecordTooLargeError) {
        // Could never be sent, however often the client retried; only this request fails.
        metrics.rejectedRequests.inc({ reason: 'record-too-large' });
        await fail(reply, 413, 'record-too-large', error.message);
        return false;
      }
      if (error instanceof BrokerUnreachableError) {
        await brokerUnavailable(reply, error.message);
        return false;
      }
      // Is the broker away? Then the next requests fail at once instead of waiting their deadline.
      void lookAtBroker();
      if (error instanceof ProduceTimeoutError) {
        deps.logger.warn({ err: error }, 'broker did not acknowledge in time');
        await brokerUnavailable(
          reply,
          `the event log did not acknowledge within ${config.INGEST_PRODUCE_TIMEOUT_MS} ms`,
        );
      } else {
        deps.logger.error({ err: error }, 'broker did not acknowledge');
        await brokerUnavailable(reply, 'the event log did not acknowledge');
      }
      return false;
    }
  };

  app.register(async (v1) => {
    v1.addHook('onRequest', authenticate);
    // Bodies are taken as sent: a compressed one would otherwise be parsed as it is and refused as
    // "not valid JSON". Checked before the body is read (after the key and the rate limit).
    // The error handler answers it (415 unsupported-media-type, counted like the other refusals).
    v1.addHook('preParsing', async (request) => {
      const encoding = request.headers['content-encoding'];
      if (encoding === undefined || IDENTITY_ENCODING.test(encoding)) return;
      throw Object.assign(
        new Error(
          `Content-Encoding ${JSON.stringify(encoding.slice(0, 64))} is not supported: send the body uncompressed (without Content-Encoding)`,
        ),
        { statusCode: 415 },
      );
    });

    v1.post('/v1/interactions', async (request, reply) => {
      const isNdjson = typeof request.body === 'string';
      const batch = isNdjson
        ? itemsOfNdjsonBatch(request.body as string, config.INGEST_MAX_BATCH)
        : itemsOfJsonBatch(request.body, config.INGEST_MAX_BATCH);
      if (!batch.ok) {
        const tooMany = batch.reason.includes('more than the limit');
        metrics.rejectedRequests.inc({ reason: tooMany ? 'batch-too-large' : 'bad-request' });
        return fail(reply, tooMany ? 413 : 400, tooMany ? 'batch-too-large' : 'bad-request', batch.reason);
      }
      const ctx = context(request);
      // Identical for every record of the request: one object, not one per record.
      const headers = recordHeaders('interactions', ctx.source, request.id);
      const records: TopicRecord[] = [];
      const results: Array<{
        index: number;
        status: 'accepted' | 'rejected';
        eventId?: string;
        reason?: string;
      }> = [];
      batch.items.forEach((entry, index) => {
        const verdict = entry.ok ? validateInteraction(entry.item, ctx) : entry;
        if (verdict.ok) {
          records.push({ topic: topics.interactions, message: interactionMessage(verdict.value, headers) });
          results.push({ index, status: 'accepted', eventId: verdict.value.eventId });
        } else {
          results.push({ index, status: 'rejected', reason: verdict.reason });
        }
      });
      const accepted = records.length;
      const rejected = results.length - accepted;
      if (accepted > 0 && !(await produce(records, reply))) return reply;
      metrics.events.inc({ type: 'interaction', outcome: 'accepted' }, accepted);
      metrics.events.inc({ type: 'interaction', outcome: 'rejected' }, rejected);
      return reply
        .code(accepted > 0 ? 202 : 400)
        .send(
          accepted > 0
            ? { accepted, rejected, results }
            : { error: 'invalid', reason: 'no valid interaction in the batch', accepted, rejected, results },
        );
    });

    v1.post('/v1/uploads', async (request, reply) => {
      let body: unknown;
      let files: Array<{ bytes: Buffer; contentType: string }> = [];
      if (request.isMultipart()) {
        const parsed = await readMultipart(request);
        if (!parsed.ok) {
          // Refused as a whole before the upload could be judged, like a JSON body that does not parse.
          metrics.rejectedRequests.inc({ reason: parsed.error });
          return fail(reply, parsed.status, parsed.error, parsed.reason);
        }
        body = parsed.body;
        files = parsed.files;
      } else {
        body = request.body;
      }
      const ctx = context(request);
      const verdict = validateUpload(body, ctx);
      if (!verdict.ok) {
        metrics.events.inc({ type: 'upload', outcome: 'rejected' });
        return fail(reply, 400, 'invalid', verdict.reason);
      }
      const upload = verdict.value;
      const checks = await Promise.allSettled(
        upload.images.flatMap((image) =>
          image.url
            ? [
                assertFetchableUrl(image.url, {
                  allowHosts: config.INGEST_URL_ALLOW_HOSTS,
                  resolve: deps.resolveHost,
                }),
              ]
            : [],
        ),
      );
      const errors = checks.flatMap((check) =>
        check.status === 'rejected' ? [check.reason as unknown] : [],
      );
      // A refused URL is final whatever else happened; DNS not answering only means "not now".
      const refused = errors.find((error) => error instanceof ForbiddenUrlError);
      if (refused) {
        metrics.events.inc({ type: 'upload', outcome: 'rejected' });
        return fail(reply, 400, 'forbidden-url', refused.message);
      }
      const unresolved = errors.find((error) => error instanceof DnsUnavailableError);
      if (unresolved) {
        metrics.rejectedRequests.inc({ reason: 'dns-unavailable' });
        reply.header('retry-after', '5');
        return fail(reply, 503, 'dns-unavailable', `${unresolved.message}; retry with the same event id`);
      }
      if (errors.length > 0) throw errors[0];
      // Every blobRef must exist: the file parts are written now (the upload is known to be valid),
      // references sent in JSON must already be in the store.
      const written = new Set<string>();
      for (const file of files) written.add(await deps.blobStore.put(file.bytes));
      for (const image of upload.images) {
        if (image.blobRef && !written.has(image.blobRef) && !(await deps.blobStore.has(image.blobRef))) {
          metrics.events.inc({ type: 'upload', outcome: 'rejected' });
          return fail(reply, 400, 'invalid', `images: ${image.blobRef} is not in the blob store`);
        }
      }
      const message: Message = {
        key: upload.postId,
        value: JSON.stringify(upload),
        headers: recordHeaders('uploads', upload.source, request.id),
        timestamp: String(Date.parse(upload.clientTimestamp)),
      };
      if (!(await produce([{ topic: topics.uploads, message }], reply))) return reply;
      metrics.events.inc({ type: 'upload', outcome: 'accepted' });
      return reply
        .code(202)
        .send({ status: 'accepted', eventId: upload.eventId, postId: upload.postId, images: upload.images });
    });

    async function readMultipart(
      request: FastifyRequest,
    ): Promise<
      | { ok: true; body: unknown; files: Array<{ bytes: Buffer; contentType: string }> }
      | { ok: false; status: number; error: string; reason: string }
    > {
      let metadata: unknown;
      const files: Array<{ bytes: Buffer; contentType: string }> = [];
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          const bytes = await part.toBuffer();
          let contentType = sniffImageType(bytes);
          if (!contentType)
            return {
              ok: false,
              status: 415,
              error: 'unsupported-media-type',
              reason: `file part ${files.length + 1} is not a ${decodableFormatsList()} image`,
            };
          if (isHeifContainer(contentType)) {
            // A HEIC photo is HEVC inside: refused here when the decoder cannot read it, instead of
            // a 202 now and a dead letter in the embedder later. AVIF (AV1) passes on this build.
            const heif = await checkHeifDecodable(bytes);
            if (!heif.ok)
              return {
                ok: false,
                status: 415,
                error: 'unsupported-media-type',
                reason: `file part ${files.length + 1}: ${heif.reason}`,
              };
            if (heif.coding === 'av1') contentType = 'image/avif';
            else if (heif.coding === 'hevc') contentType = 'image/heic';
          }
          files.push({ bytes, contentType });
        } else if (part.fieldname === 'metadata') {
          try {
            metadata = JSON.parse(String(part.value));
          } catch (error) {
            return {
              ok: false,
              status: 400,
              error: 'malformed-json',
              reason: `metadata: ${(error as Error).message}`,
            };
          }
        }
      }
      if (
        metadata === undefined ||
        typeof metadata !== 'object' ||
        metadata === null ||
        Array.isArray(metadata)
      )
        return {
          ok: false,
          status: 400,
          error: 'bad-request',
          reason: 'a multipart upload needs a "metadata" field with the upload as a JSON object',
        };
      const given = (metadata as { images?: unknown }).images;
      const urlImages = Array.isArray(given) ? given : [];
      return {
        ok: true,
        files,
        body: {
          ...metadata,
          images: [
            ...urlImages,
            ...files.map((f) => ({ blobRef: blobRefOf(f.bytes), contentType: f.contentType })),
          ],
        },
      };
    }
  });

  app.get('/healthz', { config: { rateLimit: false } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { rateLimit: false } }, async (_request, reply) => {
    if (draining) return reply.code(503).send({ status: 'draining' });
    const problem = await lookAtBroker();
    if (!problem) return reply.code(200).send({ status: 'ready' });
    return reply.code(503).send(
      problem.problem === 'unreachable'
        ? { status: 'broker unreachable', reason: brokerProblemReason(problem) }
        : {
            status: 'topics missing',
            reason: brokerProblemReason(problem),
            missing: problem.missing,
            fix: problem.fix,
          },
    );
  });
  app.get('/metrics', { config: { rateLimit: false } }, async (_request, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );
  app.get('/openapi.json', { config: { rateLimit: false } }, async () => openApiDocument());

  return {
    app,
    batcher,
    drain: () => {
      draining = true;
    },
  };
}

function interactionMessage(interaction: Interaction, headers: Record<string, string>): Message {
  return {
    key: interaction.postId,
    value: JSON.stringify(interaction),
    headers,
    timestamp: String(Date.parse(interaction.timestamp)),
  };
}

function createMetrics(registry: Registry) {
  return {
    events: new Counter({
      name: 'trendradar_ingest_events_total',
      help: 'Events received, by type and outcome (accepted, rejected).',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    rejectedRequests: new Counter({
      name: 'trendradar_ingest_rejected_requests_total',
      help: 'Requests refused as a whole, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sendRecords: new Histogram({
      name: 'trendradar_ingest_send_records',
      help: 'Records per producer send (group commit size).',
      buckets: [1, 10, 50, 100, 500, 1000, 5000],
      registers: [registry],
    }),
    sendSeconds: new Histogram({
      name: 'trendradar_ingest_send_seconds',
      help: 'Time from producer send to broker acknowledgement.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}
