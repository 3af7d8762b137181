/**
 * Reposts: the same photo uploaded again, by anyone, under another post. Pure (no I/O, no clock).
 *
 * A photo is the same when its `imageUrl` is: `blob:sha256:…` for uploaded bytes (the same bytes),
 * or the same https URL. Forty accounts re-uploading one picture within half an hour are one
 * photo's reach, not forty members wearing the product, and a ring that does so must not look like
 * a trend. So, per SKU and within a memory span of event time:
 *   - the first upload of a photo is an upload;
 *   - a later upload of the same photo under another post counts as a `share` of the first post
 *     (by the reposter): it is engagement with that photo, not a new uploader;
 *   - interactions on such a repost count as interactions on the first post, so the per-post cap
 *     damps a ring that likes its own reposts as it damps a like-bot on one photo.
 * A re-encoded or cropped copy is a different photo here: only exact copies are recognised.
 */
import type { Signal } from '../../shared/contracts/events.ts';

/** The post that first showed a photo, or that a repost stands for. */
interface PhotoOrigin {
  post: string;
  /** The first post's author (`postMemberId` of the rewritten signals). */
  author: string;
  /** Event time of the first upload, or of the repost (for expiry). */
  at: number;
}

/** The changelog form: `[key, post, author, at]`, photos first then reposts (see `serialize`). */
export interface SerializedPhotoMemory {
  photos: Array<[string, string, string, number]>;
  reposts: Array<[string, string, string, number]>;
}

/** One SKU's photos and reposts within the memory span. */
export class PhotoMemory {
  /** imageUrl → the first post that showed it. */
  private readonly photos = new Map<string, PhotoOrigin>();
  /** Repost's post id → the first post. */
  private readonly reposts = new Map<string, PhotoOrigin>();
  /** Size at which entries out of every signal's reach are dropped (amortised). */
  private pruneAt = 64;

  constructor(serialized?: SerializedPhotoMemory) {
    if (!serialized) return;
    for (const [key, post, author, at] of serialized.photos) this.photos.set(key, { post, author, at });
    for (const [key, post, author, at] of serialized.reposts) this.reposts.set(key, { post, author, at });
  }

  /**
   * The signal as it counts: unchanged, or rewritten onto the first post of its photo. `at` is the
   * signal's event time; `memoryMs` how far apart in event time a photo and its repost may be;
   * `reachedFrom` the earliest event time a signal may still be counted at (entries beyond it and
   * the memory are dropped now and then: no signal could match them any more).
   */
  attribute(signal: Signal, at: number, memoryMs: number, reachedFrom: number): Signal {
    if (this.photos.size + this.reposts.size >= this.pruneAt) {
      this.forgetBefore(reachedFrom - memoryMs);
      this.pruneAt = Math.max(64, 2 * (this.photos.size + this.reposts.size));
    }
    if (signal.kind !== 'upload') {
      const origin = this.reposts.get(signal.postId);
      if (!origin || Math.abs(at - origin.at) > memoryMs) return signal;
      return { ...signal, postId: origin.post, postMemberId: origin.author };
    }
    const image = signal.imageUrl;
    if (image === undefined) return signal;
    const first = this.photos.get(image);
    if (first && first.post !== signal.postId && Math.abs(at - first.at) <= memoryMs) {
      this.reposts.set(signal.postId, { post: first.post, author: first.author, at });
      return { ...signal, kind: 'share', postId: first.post, postMemberId: first.author };
    }
    if (!first || first.post !== signal.postId)
      this.photos.set(image, { post: signal.postId, author: signal.postMemberId ?? signal.memberId, at });
    return signal;
  }

  /** What the changelog keeps: only entries a signal from `reachedFrom` on could still match. */
  serialize(reachedFrom: number, memoryMs: number): SerializedPhotoMemory | undefined {
    const cutoff = reachedFrom - memoryMs;
    const photos = [...this.photos].filter(([, o]) => o.at >= cutoff).map(([k, o]) => row(k, o));
    const reposts = [...this.reposts].filter(([, o]) => o.at >= cutoff).map(([k, o]) => row(k, o));
    return photos.length + reposts.length > 0 ? { photos, reposts } : undefined;
  }

  private forgetBefore(cutoff: number): void {
    for (const [key, origin] of this.photos) if (origin.at < cutoff) this.photos.delete(key);
    for (const [key, origin] of this.reposts) if (origin.at < cutoff) this.reposts.delete(key);
  }
}

function row(key: string, origin: PhotoOrigin): [string, string, string, number] {
  return [key, origin.post, origin.author, origin.at];
}
