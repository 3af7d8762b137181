/**
 * Watermarks through the repartition topic, pure. Every attribution task (a source: one input
 * partition of attribution) merges its input in event-time order and writes, in the transaction
 * of its signals, a progress record to every partition of signals-by-sku: "I have processed
 * through event time w". A windowing task keeps the latest watermark of each source; the minimum
 * over all sources is how far it may close windows, however the producers' records interleave.
 *
 * A source that has not reported holds that minimum back (-Infinity). Wall clock enters only
 * through `watermarkLeavingOutSilent`: a source silent for `idleMs` (an attribution partition
 * without input, an instance that went away) stops counting, unless the windowing partition
 * itself lags behind its log, where that source's progress may still be waiting.
 */

export interface SourceProgress {
  /** The attribution input partition that sent it. */
  source: number;
  /** How many attribution input partitions there are: every one of them is a source. */
  sources: number;
  /** Event time processed through; -Infinity for a source that has processed nothing yet. */
  watermark: number;
}

/** Changelog key of the per-source watermarks, beside the windowing state's own keys. */
export const WATERMARKS_KEY = 'watermarks';

interface SerializedWatermarks {
  sources: number;
  /** [source, watermark]; JSON turns -Infinity into null. */
  watermarks: Array<[number, number | null]>;
}

export class SourceWatermarks {
  private sources = 0;
  private readonly watermarks = new Map<number, number>();
  /** Wall-clock ms of the last progress of each source; not persisted (meaningless after a restart). */
  private readonly heardAt = new Map<number, number>();
  private changed = false;

  /** `since`: wall-clock ms from which a source never heard of counts as silent. */
  constructor(
    private readonly idleMs: number,
    private readonly since: number,
  ) {}

  /**
   * Some producer of this partition sends progress. Until then (a topic written before progress
   * records existed) stream time follows the signals, as before.
   */
  get engaged(): boolean {
    return this.sources > 0;
  }

  observe(progress: SourceProgress, now: number): void {
    this.heardAt.set(progress.source, now);
    if (progress.sources > this.sources) {
      this.sources = progress.sources;
      this.changed = true;
    }
    const known = this.watermarks.get(progress.source);
    if (known === undefined || progress.watermark > known) {
      this.watermarks.set(progress.source, progress.watermark);
      this.changed = true;
    }
  }

  /** The minimum over every source; -Infinity while one has not reported (or before any progress). */
  watermark(): number {
    if (!this.engaged) return Number.NEGATIVE_INFINITY;
    let min = Number.POSITIVE_INFINITY;
    for (let source = 0; source < this.sources; source++)
      min = Math.min(min, this.watermarks.get(source) ?? Number.NEGATIVE_INFINITY);
    return min;
  }

  /**
   * The minimum over the sources heard from within `idleMs`; -Infinity when all are silent (nothing
   * to go by). While the partition lags behind its log every source counts.
   */
  watermarkLeavingOutSilent(now: number, lagging: boolean): number {
    if (lagging) return this.watermark();
    let min = Number.POSITIVE_INFINITY;
    for (let source = 0; source < this.sources; source++) {
      if (now - (this.heardAt.get(source) ?? this.since) >= this.idleMs) continue;
      min = Math.min(min, this.watermarks.get(source) ?? Number.NEGATIVE_INFINITY);
    }
    return min === Number.POSITIVE_INFINITY ? Number.NEGATIVE_INFINITY : min;
  }

  takeChanges(): Array<[string, SerializedWatermarks]> {
    if (!this.changed) return [];
    this.changed = false;
    const watermarks = [...this.watermarks].map(([source, w]): [number, number | null] => [
      source,
      Number.isFinite(w) ? w : null,
    ]);
    return [[WATERMARKS_KEY, { sources: this.sources, watermarks }]];
  }

  /** Restored sources count as just heard from: the restart is no reason to leave them out. */
  restore(value: unknown, now: number): void {
    const state = value as SerializedWatermarks;
    this.sources = state.sources;
    this.watermarks.clear();
    for (const [source, w] of state.watermarks) {
      this.watermarks.set(source, w ?? Number.NEGATIVE_INFINITY);
      this.heardAt.set(source, now);
    }
  }
}
