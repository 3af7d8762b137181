/**
 * The embedder's batch handler: a chunk of uploads → every image loaded (blob store or https),
 * decoded and prepared on sharp's thread pool, run through the encoder in model-sized batches
 * (the next batch keeps decoding while one is in inference), matched against the catalogue index.
 *
 * Outcomes per upload:
 *   every image described            → done: its mention / no-match records;
 *   some images unusable             → done: records for the good ones, and one dead-letter record
 *                                       per bad image (header dlq.image.index) with the reason;
 *   every image unusable             → dead, with the reasons (the runner dead-letters it);
 *   an image failed transiently      → retry (the runner backs off, then dead-letters).
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
import type { ImageDescriber } from '../../shared/vision/describer.ts';
import type { PreparedImage } from '../../shared/vision/descriptor.ts';
import type { MatchPolicy } from '../../shared/vision/matcher.ts';
import { type ImageSources, isPermanentImageError, loadImageBytes } from './image-source.ts';
import { concurrencyLimit } from './limit.ts';
import { imageUrlOf, mentionsFor } from './mentions.ts';

export class UnusableImageError extends PermanentError {
  override name = 'UnusableImageError';
}

export interface HandlerDeps {
  describer: ImageDescriber;
  sources: ImageSources;
  /** The current catalogue index (swapped when the catalogue changes). */
  index: () => CatalogueIndex;
  policy: MatchPolicy;
  keepCandidates: number;
  mentionsTopic: string;
  deadLetterTopic: string;
  service: string;
  /** Called once per image with what became of it. */
  onImage?: (result: 'matched' | 'no-match' | 'unusable' | 'transient') => void;
  now?: () => Date;
}

interface ImageJob {
  upload: Upload;
  record: number;
  imageIndex: number;
  prepared: Promise<PreparedImage | Error>;
}

type ImageResult = { ok: true; mentions: Mention[] } | { ok: false; permanent: boolean; error: Error };

export function embedderHandler(deps: HandlerDeps): BatchHandler {
  const { describer } = deps;
  const modelBatch = describer.encoder.manifest.maxBatch;
  // Two model batches in flight: decoding keeps ahead of inference without holding a whole chunk's
  // fetched bytes (up to IMAGE_FETCH_MAX_BYTES each) in memory at once.
  const loading = concurrencyLimit(modelBatch * 2);
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
      upload.images.forEach((image, imageIndex) => {
        // Queued at once, in order: loads and decodes overlap each other and inference.
        const prepared = loading(async () =>
          describer.prepare(await loadImageBytes(image, deps.sources)),
        ).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
        jobs.push({ upload, record: i, imageIndex, prepared });
      });
    });

    const results = new Map<ImageJob, ImageResult>();
    const now = (deps.now ?? (() => new Date()))();
    for (let start = 0; start < jobs.length; start += modelBatch) {
      const group = jobs.slice(start, start + modelBatch);
      const prepared = await Promise.all(group.map((job) => job.prepared));
      const described = await describer.describePrepared(prepared);
      const index = deps.index();
      group.forEach((job, k) => {
        const result = described[k]!;
        if (!result.ok) {
          const permanent = isPermanentImageError(result.error);
          results.set(job, { ok: false, permanent, error: result.error });
          deps.onImage?.(permanent ? 'unusable' : 'transient');
          return;
        }
        const mentions = mentionsFor(
          {
            upload: job.upload,
            imageIndex: job.imageIndex,
            vector: result.vector,
            candidates: index.search(result.vector, Math.max(2, deps.keepCandidates)),
          },
          { modelId: describer.modelId, policy: deps.policy, keepCandidates: deps.keepCandidates, now },
        );
        results.set(job, { ok: true, mentions });
        deps.onImage?.(mentions[0]!.kind === 'mention' ? 'matched' : 'no-match');
      });
      await context.heartbeat();
    }

    records.forEach((record, i) => {
      if (outcomes[i]) return;
      const upload = uploads[i]!;
      const mine = jobs.filter((job) => job.record === i).map((job) => ({ job, result: results.get(job)! }));
      const transient = mine.find(({ result }) => !result.ok && !result.permanent);
      if (transient && !transient.result.ok) {
        outcomes[i] = { kind: 'retry', error: transient.result.error };
        return;
      }
      const bad = mine.filter(({ result }) => !result.ok);
      const reason = (job: ImageJob, error: Error) =>
        `image ${job.imageIndex} (${imageUrlOf(upload.images[job.imageIndex]!).slice(0, 120)}): ${error.message}`;
      if (bad.length === mine.length) {
        const message = bad
          .map(({ job, result }) => reason(job, (result as { error: Error }).error))
          .join('; ');
        outcomes[i] = { kind: 'dead', error: new UnusableImageError(message) };
        return;
      }
      const outputs: OutboundRecord[] = [];
      for (const { job, result } of mine) {
        if (result.ok) {
          for (const mention of result.mentions)
            outputs.push(mentionRecord(deps.mentionsTopic, upload, mention));
        } else {
          outputs.push(
            imageDeadLetter(
              deps,
              record,
              job.imageIndex,
              new UnusableImageError(reason(job, result.error)),
              context.attempt,
            ),
          );
        }
      }
      outcomes[i] = { kind: 'done', outputs };
    });
    return outcomes as Outcome[];
  };
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
