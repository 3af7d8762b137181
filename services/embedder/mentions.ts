/**
 * From one described photo to its mention record (pure). A photo yields exactly one record: a
 * `mention` of the recognised SKU (always rank 1), or an explicit `no-match` carrying the best
 * candidates when nothing clears the threshold and margin, so coverage can be monitored. Ids are
 * deterministic (`${uploadEventId}:${imageIndex}:${sku|'none'}`): re-processing after a crash
 * overwrites, never adds.
 *
 * A mention also says how sure the match is, `margin` (its score's lead over the runner-up SKU,
 * the very figure the decision compared with the policy's margin), and names the product: the
 * name, brand and category of the embedder's catalogue memory (catalogue-memory.ts), so mentions
 * are found by product like trend windows and alerts.
 */
import type { Mention, Upload, UploadImage } from '../../shared/contracts/events.ts';
import type { Candidate } from '../../shared/vision/catalogue-index.ts';
import { decide, type MatchPolicy } from '../../shared/vision/matcher.ts';
import type { ProductFacts } from './catalogue-memory.ts';

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
  /** The catalogue's facts of a SKU, written into its mentions (none without). */
  productFacts?: (sku: string) => ProductFacts | undefined;
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
    // The decision takes the first candidate; its lead is over the second (the best other SKU:
    // the index returns each SKU once, at its best view's score).
    const runnerUp = candidates[1];
    const product = context.productFacts?.(decision.sku);
    return [
      {
        ...base,
        kind: 'mention',
        mentionId: `${upload.eventId}:${imageIndex}:${decision.sku}`,
        sku: decision.sku,
        score: round(decision.score),
        rank: 1,
        ...(runnerUp ? { margin: round(decision.score - runnerUp.score) } : {}),
        ...(product?.name ? { name: product.name } : {}),
        ...(product?.brand ? { brand: product.brand } : {}),
        ...(product?.category ? { category: product.category } : {}),
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
