import { z } from 'zod';
import { BaseEnv } from '../../shared/config/env.ts';
import { FetchEnv, ModelEnv } from '../catalogue/config.ts';

export const EmbedderEnv = BaseEnv.extend(ModelEnv.shape)
  .extend(FetchEnv.shape)
  .extend({
    /** Consumer group on the uploads topic; defaults to `${TOPIC_NAMESPACE}.embedder`. */
    EMBEDDER_GROUP_ID: z.string().min(1).optional(),
    /** Uploads handed to the worker at once (their images are decoded together and inferred in model batches). */
    EMBEDDER_BATCH_SIZE: z.coerce.number().int().min(1).max(1_000).default(32),
    /** Partitions processed at the same time: one chunk decodes while another is in inference. */
    EMBEDDER_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
    /** Attempts for a transiently failing upload (blob store hiccup, inference error) before it is dead-lettered. */
    EMBEDDER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
    /**
     * A SKU is recognised only when its score (cosine in the whitened space) reaches this… The
     * default suits member (phone-like) photos of this model, the open-set calibration of
     * docs/matching.md (0.38–0.53 per fold); studio shots calibrate to 0.66, which would turn most
     * member photos into no-matches. Re-calibrate on labelled photos of the real population.
     */
    EMBEDDER_MATCH_THRESHOLD: z.coerce.number().min(-1).max(1).default(0.5),
    /** …and leads the runner-up SKU by at least this much (phone photos: 0.01–0.07 per fold). */
    EMBEDDER_MATCH_MARGIN: z.coerce.number().min(0).max(2).default(0.02),
    /** Candidates kept on no-match records (for coverage monitoring). */
    EMBEDDER_CANDIDATES: z.coerce.number().int().min(1).max(10).default(5),
    /** Images with more pixels than this are refused before decoding (decompression bombs). */
    EMBEDDER_MAX_PIXELS: z.coerce.number().int().min(10_000).default(50_000_000),
    /**
     * Worker threads that decode, prepare and run the model (one onnxruntime thread each), so the
     * main thread only does Kafka, matching and producing; 0 describes on the main thread with
     * MODEL_THREADS (for debugging). Defaults to the machine's available parallelism.
     */
    EMBEDDER_WORKERS: z.coerce.number().int().min(0).max(64).optional(),
    /** Catalogue changes arriving while running are batched for this long before the index is rebuilt. */
    EMBEDDER_INDEX_REBUILD_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(2_000),
  });
export type EmbedderConfig = z.infer<typeof EmbedderEnv>;

export function embedderGroupId(
  config: Pick<EmbedderConfig, 'EMBEDDER_GROUP_ID' | 'TOPIC_NAMESPACE'>,
): string {
  return config.EMBEDDER_GROUP_ID ?? `${config.TOPIC_NAMESPACE}.embedder`;
}
