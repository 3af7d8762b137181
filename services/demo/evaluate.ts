/** Did the demo find what was planted, and only that? Pure: ground truth and alerts in, verdict out. */
import type { Mention, ReorderAlert } from '../../shared/contracts/events.ts';

export interface PlantedTruth {
  trends: Array<{ sku: string; onset: string; regions: readonly string[] }>;
  decoys: Array<{ sku: string; kind: string }>;
  photos: Array<{ postId: string; imageIndex: number; sku: string }>;
}

export interface DemoVerdict {
  trends: Array<{ sku: string; onset: string; alertedAt: string | null; delayHours: number | null }>;
  decoys: Array<{ sku: string; kind: string; alerted: boolean }>;
  /** Alerts whose SKU was neither planted nor a decoy (organic noise the detector flagged). */
  otherAlertedSkus: string[];
  photos: { total: number; matchedCorrectly: number; matchedWrongly: number; noMatch: number };
}

export function evaluateDemo(truth: PlantedTruth, alerts: ReorderAlert[], mentions: Mention[]): DemoVerdict {
  const firstAlert = new Map<string, ReorderAlert>();
  for (const alert of alerts) {
    const seen = firstAlert.get(alert.sku);
    if (!seen || alert.windowEnd < seen.windowEnd) firstAlert.set(alert.sku, alert);
  }
  const trends = truth.trends.map((trend) => {
    const alert = firstAlert.get(trend.sku);
    return {
      sku: trend.sku,
      onset: trend.onset,
      alertedAt: alert?.windowEnd ?? null,
      delayHours: alert ? (Date.parse(alert.windowEnd) - Date.parse(trend.onset)) / 3_600_000 : null,
    };
  });
  const decoys = truth.decoys.map((decoy) => ({ ...decoy, alerted: firstAlert.has(decoy.sku) }));
  const known = new Set([...truth.trends.map((t) => t.sku), ...truth.decoys.map((d) => d.sku)]);
  const otherAlertedSkus = [...firstAlert.keys()].filter((sku) => !known.has(sku)).sort();

  const byImage = new Map<string, Mention[]>();
  for (const mention of mentions) {
    const key = `${mention.postId}|${mention.imageIndex}`;
    byImage.set(key, [...(byImage.get(key) ?? []), mention]);
  }
  const photos = { total: truth.photos.length, matchedCorrectly: 0, matchedWrongly: 0, noMatch: 0 };
  for (const photo of truth.photos) {
    const found = byImage.get(`${photo.postId}|${photo.imageIndex}`) ?? [];
    const top = found.find((m) => m.kind === 'mention' && m.rank === 1);
    if (top && top.kind === 'mention') {
      if (top.sku === photo.sku) photos.matchedCorrectly++;
      else photos.matchedWrongly++;
    } else if (found.some((m) => m.kind === 'no-match')) photos.noMatch++;
  }
  return { trends, decoys, otherAlertedSkus, photos };
}
