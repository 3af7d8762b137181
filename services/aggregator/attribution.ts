/**
 * Attribution, pure: a table post → SKUs built from the embedder's mentions, joined with the
 * interactions on those posts (same key, same partition: the topics are co-partitioned), turned
 * into signals keyed by SKU. One instance per input partition; its state is plain data so the edge
 * can write what changed to a changelog and restore it after a crash.
 *
 * An interaction may overtake its post's mention (the embedder takes time): it waits, bounded by
 * count and by event time. What expires is handed back to the caller, who keeps it (dead-letter
 * topic, re-drivable), never dropped silently. The wait is measured on both streams: an
 * interaction expires once the interactions AND the mentions have moved past its time by the
 * limit, so an embedder that falls behind (a backlog after an outage) holds the waits rather than
 * sending interactions whose mentions are still coming to the dead-letter topic.
 */
import type { Interaction, Mention, Signal } from '../../shared/contracts/events.ts';
import type { AttributionSettings } from './config.ts';

export interface PostEntry {
  author: string;
  country: string;
  city: string;
  eventTime: number;
  /** SKUs matched in the post's photos, with the photo that matched best. */
  skus: Record<string, { imageUrl: string; score: number }>;
}

export interface PendingInteraction<Ref> {
  interaction: Interaction;
  eventTime: number;
  /** Whatever the caller needs to keep the original record (topic, offset, bytes). */
  ref: Ref;
}

export type ExpiryReason =
  | 'no mention for the post within the wait limit'
  | 'too many interactions waiting'
  | 'too many interactions waiting for one post';

/**
 * Interactions one post may have waiting: about 750 bytes each in memory and in the changelog (the
 * original record included), and a viral post while the embedder is down would otherwise hold an
 * unbounded list. Beyond this, the oldest go to the dead-letter topic (re-drivable), as the
 * overall bound does.
 */
export const PENDING_MAX_PER_POST = 4_000;

export interface Expired<Ref> {
  pending: PendingInteraction<Ref>;
  reason: ExpiryReason;
}

export interface AttributionOutput<Ref> {
  signals: Signal[];
  expired: Expired<Ref>[];
  /** Interactions on posts whose photos matched no SKU: legitimate, just not about the catalogue. */
  unattributed: number;
  /** Re-deliveries of an interaction already taken (same event id): ingest is at-least-once. */
  duplicates: number;
}

/** Changelog keys: `post|<id>`, `pending|<postId>`, `seen|<interactionEventId>` and `meta`. */
export type AttributionKey = string;

export class Attributor<Ref> {
  private readonly posts = new Map<string, PostEntry>();
  /** Insertion order is arrival order, so the first entries are the ones to evict. */
  private readonly pending = new Map<string, PendingInteraction<Ref>[]>();
  private pendingCount = 0;
  /**
   * Event ids of the interactions taken (attributed or waiting) → event time, in arrival order,
   * kept for `dedupeHorizonMs`: a client that retries after a timeout sends the same event again.
   */
  private readonly seen = new Map<string, number>();
  private streamTime = Number.NEGATIVE_INFINITY;
  /** The largest event time of a mention: how far the embedder's output has come. */
  private mentionTime = Number.NEGATIVE_INFINITY;
  private lastSweep = Number.NEGATIVE_INFINITY;
  /** The wait horizon at the last sweep of the waiting interactions. */
  private lastWaitSweep = Number.NEGATIVE_INFINITY;
  private readonly dirty = new Set<AttributionKey>();

  constructor(private readonly settings: AttributionSettings) {}

  /** The largest event time processed: with input merged in event-time order, its watermark. */
  get currentStreamTime(): number {
    return this.streamTime;
  }

  get waiting(): number {
    return this.pendingCount;
  }

  onMention(mention: Mention): AttributionOutput<Ref> {
    const out: AttributionOutput<Ref> = { signals: [], expired: [], unattributed: 0, duplicates: 0 };
    const eventTime = Date.parse(mention.eventTime);
    if (eventTime > this.mentionTime) {
      this.mentionTime = eventTime;
      this.dirty.add('meta');
    }
    let post = this.posts.get(mention.postId);
    if (!post) {
      post = {
        author: mention.memberId,
        country: mention.location.country,
        city: mention.location.city,
        eventTime,
        skus: {},
      };
      this.posts.set(mention.postId, post);
    }
    this.dirty.add(`post|${mention.postId}`);
    if (mention.kind === 'mention') {
      const known = post.skus[mention.sku];
      // A re-processed upload (same mention id) must not count twice: the upload signal goes once.
      if (!known) {
        post.skus[mention.sku] = { imageUrl: mention.imageUrl, score: mention.score };
        out.signals.push({
          signalId: `${mention.uploadEventId}|${mention.sku}|upload`,
          sku: mention.sku,
          kind: 'upload',
          postId: mention.postId,
          memberId: mention.memberId,
          postMemberId: mention.memberId,
          eventTime: new Date(eventTime).toISOString(),
          country: post.country,
          city: post.city,
          imageUrl: mention.imageUrl,
          matchScore: mention.score,
        });
      } else if (mention.score > known.score) {
        post.skus[mention.sku] = { imageUrl: mention.imageUrl, score: mention.score };
      }
    }
    const waiting = this.pending.get(mention.postId);
    if (waiting) {
      this.pending.delete(mention.postId);
      this.pendingCount -= waiting.length;
      this.dirty.add(`pending|${mention.postId}`);
      for (const w of waiting) this.attribute(w.interaction, w.eventTime, post, out);
    }
    this.advance(eventTime, out);
    // The embedder catching up moves the wait horizon while the interactions' time stands still.
    if (this.waitHorizon() - this.lastWaitSweep >= this.sweepEvery()) this.sweepWaits(out);
    return out;
  }

  onInteraction(interaction: Interaction, ref: Ref): AttributionOutput<Ref> {
    const out: AttributionOutput<Ref> = { signals: [], expired: [], unattributed: 0, duplicates: 0 };
    const eventTime = Date.parse(interaction.timestamp);
    if (this.seen.has(interaction.eventId)) {
      out.duplicates++;
      return out;
    }
    this.seen.set(interaction.eventId, eventTime);
    this.dirty.add(`seen|${interaction.eventId}`);
    const post = this.posts.get(interaction.postId);
    if (post) {
      this.attribute(interaction, eventTime, post, out);
    } else {
      const list = this.pending.get(interaction.postId) ?? [];
      list.push({ interaction, eventTime, ref });
      this.pending.set(interaction.postId, list);
      this.pendingCount++;
      this.dirty.add(`pending|${interaction.postId}`);
      if (list.length > PENDING_MAX_PER_POST) {
        const oldest = list.shift()!;
        this.pendingCount--;
        this.forget(oldest);
        out.expired.push({ pending: oldest, reason: 'too many interactions waiting for one post' });
      }
      this.evictOverflow(out);
    }
    this.advance(eventTime, out);
    return out;
  }

  private attribute(
    interaction: Interaction,
    eventTime: number,
    post: PostEntry,
    out: AttributionOutput<Ref>,
  ): void {
    const skus = Object.keys(post.skus);
    if (skus.length === 0) {
      out.unattributed++;
      return;
    }
    const country = interaction.country ?? post.country;
    for (const sku of skus) {
      const photo = post.skus[sku]!;
      out.signals.push({
        signalId: `${interaction.eventId}|${sku}`,
        sku,
        kind: interaction.type,
        postId: interaction.postId,
        memberId: interaction.memberId,
        postMemberId: post.author,
        eventTime: new Date(eventTime).toISOString(),
        country,
        ...(country === post.country ? { city: post.city } : {}),
        imageUrl: photo.imageUrl,
        matchScore: photo.score,
      });
    }
  }

  private evictOverflow(out: AttributionOutput<Ref>): void {
    while (this.pendingCount > this.settings.pendingMax) {
      const [postId, list] = this.pending.entries().next().value as [string, PendingInteraction<Ref>[]];
      const oldest = list.shift()!;
      this.pendingCount--;
      this.forget(oldest);
      out.expired.push({ pending: oldest, reason: 'too many interactions waiting' });
      if (list.length === 0) this.pending.delete(postId);
      this.dirty.add(`pending|${postId}`);
    }
  }

  /** Event time moves forward only; expiry and eviction sweep at most every 1/8 of their limits. */
  private advance(eventTime: number, out: AttributionOutput<Ref>): void {
    if (eventTime <= this.streamTime) return;
    this.streamTime = eventTime;
    this.dirty.add('meta');
    if (this.streamTime - this.lastSweep < this.sweepEvery()) return;
    this.lastSweep = this.streamTime;
    this.sweepWaits(out);
    // In arrival order, which is about event-time order: the first one still in the horizon stops
    // the sweep, and an older one behind it goes at a later sweep.
    const seenLimit = this.streamTime - this.settings.dedupeHorizonMs;
    for (const [eventId, time] of this.seen) {
      if (time >= seenLimit) break;
      this.seen.delete(eventId);
      this.dirty.add(`seen|${eventId}`);
    }
    const ttlLimit = this.streamTime - this.settings.postTtlMs;
    for (const [postId, post] of this.posts) {
      if (post.eventTime < ttlLimit) {
        this.posts.delete(postId);
        this.dirty.add(`post|${postId}`);
      }
    }
  }

  private sweepEvery(): number {
    return Math.min(this.settings.pendingMaxWaitMs, this.settings.postTtlMs) / 8;
  }

  /** How far both streams have come: a post's mention from before this would have arrived. */
  private waitHorizon(): number {
    return Math.min(this.streamTime, this.mentionTime);
  }

  private sweepWaits(out: AttributionOutput<Ref>): void {
    this.lastWaitSweep = this.waitHorizon();
    this.dirty.add('meta');
    const waitLimit = this.lastWaitSweep - this.settings.pendingMaxWaitMs;
    for (const [postId, list] of this.pending) {
      const keep = list.filter((p) => p.eventTime >= waitLimit);
      if (keep.length === list.length) continue;
      for (const p of list) {
        if (p.eventTime >= waitLimit) continue;
        this.forget(p);
        out.expired.push({ pending: p, reason: 'no mention for the post within the wait limit' });
      }
      this.pendingCount -= list.length - keep.length;
      if (keep.length === 0) this.pending.delete(postId);
      else this.pending.set(postId, keep);
      this.dirty.add(`pending|${postId}`);
    }
  }

  /** An expired interaction is handed back (dead letters, re-drivable): its id must be taken again. */
  private forget(pending: PendingInteraction<Ref>): void {
    this.seen.delete(pending.interaction.eventId);
    this.dirty.add(`seen|${pending.interaction.eventId}`);
  }

  // ------------------------------------------------------------------ state for the changelog

  /** Keys changed since the last call, with their current value (null = deleted). */
  takeChanges(): Array<[AttributionKey, unknown]> {
    const changes: Array<[AttributionKey, unknown]> = [];
    for (const key of this.dirty) changes.push([key, this.read(key)]);
    this.dirty.clear();
    return changes;
  }

  private read(key: AttributionKey): unknown {
    if (key === 'meta')
      return {
        streamTime: this.streamTime,
        mentionTime: this.mentionTime,
        lastSweep: this.lastSweep,
        lastWaitSweep: this.lastWaitSweep,
      };
    const [kind, id] = splitKey(key);
    if (kind === 'post') return this.posts.get(id) ?? null;
    if (kind === 'seen') return this.seen.get(id) ?? null;
    return this.pending.get(id) ?? null;
  }

  restore(key: AttributionKey, value: unknown): void {
    if (key === 'meta') {
      const meta = value as {
        streamTime: number | null;
        mentionTime?: number | null;
        lastSweep: number | null;
        lastWaitSweep?: number | null;
      };
      // JSON turns -Infinity into null; state written before mentionTime existed has none (the next
      // mention sets it).
      this.streamTime = meta.streamTime ?? Number.NEGATIVE_INFINITY;
      this.mentionTime = meta.mentionTime ?? Number.NEGATIVE_INFINITY;
      this.lastWaitSweep = meta.lastWaitSweep ?? Number.NEGATIVE_INFINITY;
      this.lastSweep = meta.lastSweep ?? Number.NEGATIVE_INFINITY;
      return;
    }
    const [kind, id] = splitKey(key);
    if (kind === 'post') {
      if (value === null) this.posts.delete(id);
      else this.posts.set(id, value as PostEntry);
    } else if (kind === 'seen') {
      if (value === null) this.seen.delete(id);
      else this.seen.set(id, value as number);
    } else {
      const before = this.pending.get(id)?.length ?? 0;
      if (value === null) this.pending.delete(id);
      else this.pending.set(id, value as PendingInteraction<Ref>[]);
      this.pendingCount += (this.pending.get(id)?.length ?? 0) - before;
    }
  }
}

function splitKey(key: string): [string, string] {
  const bar = key.indexOf('|');
  return [key.slice(0, bar), key.slice(bar + 1)];
}
