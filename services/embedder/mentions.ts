/**
 * From one described photo to its mention record (pure). A photo yields exactly one record: a
 * `mention` of the recognised SKU (always rank 1), or an explicit `no-match` carrying the best
 * candidates when nothing clears the threshold and margin, so coverage can be monitored. Ids are
 * deterministic (`${uploadEventId}:${imageIndex}:${sku|'none'}`): re-processing after a crash
 * overwrites, never adds.
 */
import type { Mention, Upload, UploadImage } from '../../shared/contracts/events.ts';
import type { Candidate } from '../../shared/vision/catalogue-index.ts';
import { decide, type MatchPolicy } from '../../shared/vision/matcher.ts';

export interface PhotoMatch {
  upload: Upload;
  imageIndex: number;
  vector: Float32Array;
  /** Best candidates first, as returned by the index (at least two, so the margin can be judged). */
  candidates: readonly Candidate[];
}

export interface MentionContext {
  modelId: string;
  policy: MatchPolicy;
  /** Candidates kept on a no-match record. */
  keepCandidates: number;
  now: Date;
}

/** How a mention refers to a photo: its https URL, or `blob:sha256:…` for uploaded bytes. */
export function imageUrlOf(image: UploadImage): string {
  return image.url ?? `blob:${image.blobRef}`;
}

export function mentionsFor(photo: PhotoMatch, context: MentionContext): Mention[] {
  const { upload, imageIndex, vector, candidates } = photo;
  const base = {
    uploadEventId: upload.eventId,
    postId: upload.postId,
    memberId: upload.memberId,
    imageIndex,
    imageUrl: imageUrlOf(upload.images[imageIndex]!),
    location: upload.location,
    eventTime: upload.clientTimestamp,
    modelId: context.modelId,
    processedAt: context.now.toISOString(),
    photoEmbedding: compact(vector),
  };
  const decision = decide(candidates, context.policy);
  if (decision.decision === 'matched') {
    return [
      {
        ...base,
        kind: 'mention',
        mentionId: `${upload.eventId}:${imageIndex}:${decision.sku}`,
        sku: decision.sku,
        score: round(decision.score),
        rank: 1,
      },
    ];
  }
  return [
    {
      ...base,
      kind: 'no-match',
      mentionId: `${upload.eventId}:${imageIndex}:none`,
      candidates: candidates
        .slice(0, context.keepCandidates)
        .map((c) => ({ sku: c.sku, score: round(c.score) })),
    },
  ];
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Six decimals are far below the descriptor's noise and halve the JSON. */
function compact(vector: Float32Array): number[] {
  return Array.from(vector, round);
}
