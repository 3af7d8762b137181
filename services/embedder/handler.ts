/**
 * The embedder's batch handler: a chunk of uploads → its images cut into model-sized groups; each
 * group is loaded (blob store or https) and handed to the describer (decode, descriptor and
 * inference on the worker-thread pool); several groups are in flight at once (across the
 * partitions processed side by side too), so the workers never wait for Kafka; each descriptor is
 * matched against the catalogue index on the main thread, in order.
 *
 * Outcomes per upload:
 *   every image described            → done: its mention / no-match records;
 *   some images unusable             → done: records for the good ones, and one dead-letter record
 *                                       per bad image (header dlq.image.index) with the reason;
 *   every image unusable             → dead, with the reasons (the runner dead-letters it);
 *   an image failed transiently      → retry (the runner backs off) while attempts remain; on the
 *                                       last, as if unusable (under the transient error's class);
 *   the model does not fit its manifest → retry, and `onModelMismatch` (the worker stops: no upload
 *                                       is to blame, so none is dead-lettered or committed).
 * Mention ids are deterministic, so a re-run after a crash or a retry overwrites, never duplicates.
 */
import type { Mention, Upload } from '../../shared/contracts/events.ts';
import { Mention as MentionSchema, Upload as UploadSchema } from '../../shared/contracts/events.ts';
import { decode, encode, PermanentError } from '../../shared/kafka/codec.ts';
import type {
  BatchHandler,
  InboundRecord,
  OutboundRecord,
  Outcome,
} from '../../shared/kafka/consumer-runner.ts';
import { deadLetterRecord } from '../../shared/kafka/dead-letter.ts';
import type { CatalogueIndex } from '../../shared/vision/catalogue-index.ts';
import type { DescribeResult, Describer } from '../../shared/vision/describer.ts';
import { ModelMismatchError } from '../../shared/vision/manifest.ts';
import type { MatchPolicy } from '../../shared/vision/matcher.ts';
import type { ProductFacts } from './catalogue-memory.ts';
import { type ImageSources, isPermanentImageError, loadImageBytes } from './image-source.ts';
import { concurrencyLimit } from './limit.ts';
import { imageUrlOf, mentionsFor } from './mentions.ts';

export class UnusableImageError extends PermanentError {
  override name = 'UnusableImageError';
}

/** Images still failing transiently after the last attempt, named after the error (e.g. BlobNotFoundError). */
class TransientImageError extends Error {
  constructor(message: string, cause: Error) {
    super(message, { cause });
    this.name = cause.name;
  }
}

/** Dead-letter reasons: a transient error keeps its class, so a re-drive is seen to be worth trying. */
function imageError(message: string, transient: Error | undefined): Error {
  return transient ? new TransientImageError(message, transient) : new UnusableImageError(message);
}

export interface HandlerDeps {
  describer: Describer;
  /** Model batches loaded and described at once, for all chunks together (bounds fetched bytes in memory). */
  inFlightBatches?: number;
  sources: ImageSources;
  /** The current catalogue index (swapped when the catalogue changes). */
  index: () => CatalogueIndex;
  /** The catalogue's name, brand and category of a SKU, for its mentions. */
  productFacts?: (sku: string) => ProductFacts | undefined;
  policy: MatchPolicy;
  keepCandidates: number;
  mentionsTopic: string;
  deadLetterTopic: string;
  service: string;
  /**
   * Called once per image, with its final outcome, when its upload is done or dead-lettered: not
   * for an attempt that ends in a retry (its images are counted on the attempt that settles them),
   * so the results add up to the images. An image still failing transiently on the last attempt is
   * dead-lettered, so `unusable`.
   */
  onImage?: (result: 'matched' | 'no-match' | 'unusable') => void;
  /** The model failed in a way every image would (ModelMismatchError): the service should stop. */
  onModelMismatch?: (error: Error) => void;
  now?: () => Date;
}

interface ImageJob {
  upload: Upload;
  record: number;
  imageIndex: number;
}

type ImageResult = { ok: true; mentions: Mention[] } | { ok: false; permanent: boolean; error: Error };

export function embedderHandler(deps: HandlerDeps): BatchHandler {
  const { describer } = deps;
  const modelBatch = describer.manifest.maxBatch;
  const inFlight = concurrencyLimit(Math.max(1, deps.inFlightBatches ?? 2));
  /** Loads a group's bytes (a load failure stays in its slot) and describes the loaded ones. */
  const describeGroup = async (group: readonly ImageJob[]): Promise<DescribeResult[]> => {
    const loaded = await Promise.all(
      group.map((job) =>
        loadImageBytes(job.upload.images[job.imageIndex]!, deps.sources).catch((error: unknown) =>
          error instanceof Error ? error : new Error(String(error)),
        ),
      ),
    );
    const bytes = loaded.filter((b): b is Buffer => !(b instanceof Error));
    const described = bytes.length > 0 ? await describer.describe(bytes) : [];
    let next = 0;
    return loaded.map((b) => (b instanceof Error ? { ok: false, error: b } : described[next++]!));
  };
  return async (records, context) => {
    const outcomes: (Outcome | undefined)[] = records.map(() => undefined);
    const uploads: (Upload | undefined)[] = [];
    const jobs: ImageJob[] = [];
    records.forEach((record, i) => {
      let upload: Upload;
      try {
        upload = decode(UploadSchema, record.value);
      } catch (error) {
        outcomes[i] = { kind: 'dead', error };
        return;
      }
      uploads[i] = upload;
      upload.images.forEach((_image, imageIndex) => {
        jobs.push({ upload, record: i, imageIndex });
      });
    });

    // Every group queued at once, in order: loads and descriptions overlap each other.
    const groups: ImageJob[][] = [];
    for (let start = 0; start < jobs.length; start += modelBatch)
      groups.push(jobs.slice(start, start + modelBatch));
    const pending = groups.map((group) => inFlight(() => describeGroup(group)));
    // A failed group fails the chunk (below); the groups after it must not be unhandled rejections.
    for (const p of pending) p.catch(() => {});

    const results = new Map<ImageJob, ImageResult>();
    const now = (deps.now ?? (() => new Date()))();
    for (const [g, group] of groups.entries()) {
      let described: DescribeResult[];
      try {
        described = await pending[g]!;
      } catch (error) {
        if (error instanceof ModelMismatchError) return modelMismatch(deps, outcomes, error);
        throw error;
      }
      const mismatch = described.find((r) => !r.ok && r.error instanceof ModelMismatchError);
      if (mismatch && !mismatch.ok) return modelMismatch(deps, outcomes, mismatch.error);
      const index = deps.index();
      group.forEach((job, k) => {
        const result = described[k]!;
        if (!result.ok) {
          const permanent = isPermanentImageError(result.error);
          results.set(job, { ok: false, permanent, error: result.error });
          return;
        }
        const mentions = mentionsFor(
          {
            upload: job.upload,
            imageIndex: job.imageIndex,
            vector: result.vector,
            candidates: index.search(result.vector, Math.max(2, deps.keepCandidates)),
          },
          {
            modelId: describer.modelId,
            policy: deps.policy,
            keepCandidates: deps.keepCandidates,
            now,
            ...(deps.productFacts ? { productFacts: deps.productFacts } : {}),
          },
        );
        results.set(job, { ok: true, mentions });
      });
      await context.heartbeat();
    }

    records.forEach((record, i) => {
      if (outcomes[i]) return;
      const upload = uploads[i]!;
      const mine = jobs.filter((job) => job.record === i).map((job) => ({ job, result: results.get(job)! }));
      const bad = mine.flatMap(({ job, result }) => (result.ok ? [] : [{ job, ...result }]));
      const transient = bad.find((failure) => !failure.permanent);
      // The whole upload again while attempts remain; after the last one a transient failure is
      // dead-lettered like an unusable image, and the upload's good images keep their mentions.
      if (transient && context.attempt < context.maxAttempts) {
        outcomes[i] = { kind: 'retry', error: transient.error };
        return;
      }
      // Final: each image counted once, on what became of it.
      for (const { result } of mine)
        deps.onImage?.(
          !result.ok ? 'unusable' : result.mentions[0]!.kind === 'mention' ? 'matched' : 'no-match',
        );
      const reason = (job: ImageJob, error: Error) =>
        `image ${job.imageIndex} (${imageUrlOf(upload.images[job.imageIndex]!).slice(0, 120)}): ${error.message}`;
      if (bad.length === mine.length) {
        const message = bad.map(({ job, error }) => reason(job, error)).join('; ');
        outcomes[i] = { kind: 'dead', error: imageError(message, transient?.error) };
        return;
      }
      const outputs: OutboundRecord[] = [];
      for (const { job, result } of mine) {
        if (result.ok) {
          for (const mention of result.mentions)
            outputs.push(mentionRecord(deps.mentionsTopic, upload, mention));
        } else {
          const error = imageError(reason(job, result.error), result.permanent ? undefined : result.error);
          outputs.push(imageDeadLetter(deps, record, job.imageIndex, error, context.attempt));
        }
      }
      outcomes[i] = { kind: 'done', outputs };
    });
    return outcomes as Outcome[];
  };
}

/** Not the uploads' fault: nothing is dead-lettered for it (records that failed to decode still are). */
function modelMismatch(deps: HandlerDeps, outcomes: (Outcome | undefined)[], error: Error): Outcome[] {
  deps.onModelMismatch?.(error);
  return outcomes.map((outcome) => outcome ?? { kind: 'retry', error });
}

function mentionRecord(topic: string, upload: Upload, mention: Mention): OutboundRecord {
  return {
    topic,
    key: upload.postId,
    value: encode(MentionSchema, mention),
    // Event time, so consumers (and time-based retention) see when the photo was taken.
    timestamp: String(Date.parse(upload.clientTimestamp)),
  };
}

/** One bad image of an otherwise good upload: the whole upload goes, marked with the image's index. */
function imageDeadLetter(
  deps: HandlerDeps,
  record: InboundRecord,
  imageIndex: number,
  error: Error,
  attempt: number,
): OutboundRecord {
  const message = deadLetterRecord(record, error, deps.service, attempt);
  return {
    topic: deps.deadLetterTopic,
    key: message.key ?? null,
    value: message.value ?? null,
    headers: { ...message.headers, 'dlq.image.index': String(imageIndex) },
    ...(message.timestamp ? { timestamp: message.timestamp } : {}),
  };
}
