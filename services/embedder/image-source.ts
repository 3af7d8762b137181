/**
 * Where an upload's image bytes come from: the blob store (`blobRef`) or an https URL fetched by
 * the hardened fetcher (SSRF rules on every hop, timeouts, byte limit, sniffed content, retries).
 * Errors are sorted into permanent (the image itself is bad: dead-letter it) and transient (try the
 * upload again later).
 */

import { BlobNotFoundError, type BlobStore } from '../../shared/blobstore/blob-store.ts';
import type { UploadImage } from '../../shared/contracts/events.ts';
import { type ImageFetcher, PermanentFetchError } from '../../shared/net/image-fetcher.ts';
import { ImageRejectedError } from '../../shared/vision/decode.ts';

export interface ImageSources {
  blobs: BlobStore;
  fetcher: ImageFetcher;
}

export async function loadImageBytes(image: UploadImage, sources: ImageSources): Promise<Buffer> {
  if (image.blobRef) return sources.blobs.get(image.blobRef);
  return (await sources.fetcher.fetch(image.url!)).bytes;
}

/**
 * Permanent: the fetcher gave up or refused (it retries transient network errors itself), or the
 * bytes are not a usable image. A missing blob is transient: ingest writes the blob before the
 * record, but a shared store may lag; after the worker's attempts it is dead-lettered anyway.
 */
export function isPermanentImageError(error: unknown): boolean {
  if (error instanceof BlobNotFoundError) return false;
  return error instanceof PermanentFetchError || error instanceof ImageRejectedError;
}
