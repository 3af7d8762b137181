/**
 * Request validation, free of I/O. Request bodies are the topic contracts minus the fields the
 * server sets (`receivedAt`, `source`), so what a client may send and what lands in Kafka cannot
 * drift apart. Each interaction of a batch is judged on its own: one bad item never sinks the rest.
 */
import type { z } from 'zod';
import { Interaction, Upload } from '../../shared/contracts/events.ts';
import { describeIssues } from '../../shared/kafka/codec.ts';
import { type ImageType, isHeifType, sniffImageType as sniffBytes } from '../../shared/vision/image-type.ts';

export const UploadRequest = Upload.omit({ receivedAt: true, source: true });
export type UploadRequest = z.infer<typeof UploadRequest>;
export const InteractionRequest = Interaction.omit({ receivedAt: true, source: true });
export type InteractionRequest = z.infer<typeof InteractionRequest>;

export type Verdict<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface ValidationContext {
  /** Server time (epoch ms) — stamped as receivedAt and used for the clock-skew check. */
  now: number;
  maxFutureSkewMs: number;
  /** Oldest event time accepted, as an age: older records would outlive the topics' retention. */
  maxEventAgeMs: number;
  /** Name of the API key the request came with. */
  source: string;
}

function eventTimeProblem(field: string, instant: string, context: ValidationContext): string | undefined {
  const ms = Date.parse(instant);
  if (ms > context.now + context.maxFutureSkewMs) {
    return `${field}: ${instant} is in the future (more than ${context.maxFutureSkewMs} ms ahead of the server clock)`;
  }
  // The record's timestamp is its event time, and the broker deletes by timestamp: an event older
  // than the topic keeps would be accepted, then gone at the next retention check.
  if (ms < context.now - context.maxEventAgeMs) {
    const days = Math.round(context.maxEventAgeMs / 86_400_000);
    return `${field}: ${instant} is more than ${days} days old (older than the topics keep events)`;
  }
  return undefined;
}

export function validateInteraction(item: unknown, context: ValidationContext): Verdict<Interaction> {
  // Parsed with the topic's full schema, server fields included: what is produced always satisfies
  // the contract consumers check (a blank source, say, is refused here and never reaches Kafka).
  const parsed = Interaction.safeParse(stamped(item, context));
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const problem = eventTimeProblem('timestamp', parsed.data.timestamp, context);
  return problem ? { ok: false, reason: problem } : { ok: true, value: parsed.data };
}

export function validateUpload(body: unknown, context: ValidationContext): Verdict<Upload> {
  const parsed = Upload.safeParse(stamped(withNormalisedHashtags(body), context));
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const problem = eventTimeProblem('clientTimestamp', parsed.data.clientTimestamp, context);
  return problem ? { ok: false, reason: problem } : { ok: true, value: parsed.data };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The request with the server's fields set (a client's own `receivedAt` or `source` is overwritten). */
function stamped(body: unknown, context: ValidationContext): unknown {
  if (!isRecord(body)) return body;
  return { ...body, receivedAt: new Date(context.now).toISOString(), source: context.source };
}

/** Hashtags in NFC, so that a composed and a decomposed "café" are one hashtag downstream. */
function withNormalisedHashtags(body: unknown): unknown {
  if (!isRecord(body) || !Array.isArray(body.hashtags)) return body;
  return {
    ...body,
    hashtags: body.hashtags.map((tag) => (typeof tag === 'string' ? tag.normalize('NFC') : tag)),
  };
}

/** The items of a batch body, or why the body as a whole is unusable. */
export type BatchItems =
  | { ok: true; items: Array<{ ok: true; item: unknown } | { ok: false; reason: string }> }
  | { ok: false; reason: string };

/** A JSON body must be an array of interaction objects. */
export function itemsOfJsonBatch(body: unknown, maxBatch: number): BatchItems {
  if (!Array.isArray(body)) return { ok: false, reason: 'the body must be a JSON array of interactions' };
  if (body.length === 0) return { ok: false, reason: 'the batch is empty' };
  if (body.length > maxBatch)
    return { ok: false, reason: `the batch has ${body.length} items, more than the limit of ${maxBatch}` };
  return { ok: true, items: body.map((item) => ({ ok: true, item })) };
}

/**
 * NDJSON: one interaction per line; a line that is not JSON is rejected alone. Blank lines are
 * skipped, but errors name the physical line, as an editor would show it. A leading byte-order mark
 * (some Windows tools write one) is not part of the first item.
 */
export function itemsOfNdjsonBatch(text: string, maxBatch: number): BatchItems {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((line, index) => ({ line, number: index + 1 }))
    .filter(({ line }) => line.trim() !== '');
  if (lines.length === 0) return { ok: false, reason: 'the batch is empty' };
  if (lines.length > maxBatch)
    return { ok: false, reason: `the batch has ${lines.length} items, more than the limit of ${maxBatch}` };
  return {
    ok: true,
    items: lines.map(({ line, number }) => {
      try {
        return { ok: true, item: JSON.parse(line) as unknown };
      } catch (error) {
        return { ok: false, reason: `line ${number} is not JSON: ${(error as Error).message}` };
      }
    }),
  };
}

/**
 * The image types an upload may be in (what `decodableFormatsList` names when one is refused):
 * JPEG, PNG, WebP, and the HEIF family, which is checked against the decoder before it is accepted
 * (see isHeifContainer and server.ts). The sniffer knows GIF and TIFF too; uploads refuse them.
 */
const UPLOAD_IMAGE_TYPES: ReadonlySet<string> = new Set<ImageType>([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/avif',
  'image/heic',
  'image/heif',
]);

/** The image type the bytes really are (not what the client claims), if an upload may be one. */
export function sniffImageType(bytes: Buffer): string | undefined {
  const type = sniffBytes(bytes);
  return type && UPLOAD_IMAGE_TYPES.has(type) ? type : undefined;
}

/**
 * True for the HEIF family (AVIF, HEIC, generic HEIF): the signature alone does not tell whether the image can be
 * decoded, so these are checked against the decoder before being accepted.
 */
export function isHeifContainer(contentType: string): boolean {
  return isHeifType(contentType);
}
