/**
 * How an alert reads for a buyer, shared by the inbox, e-mails and webhooks: pure functions from
 * the alert to text, numbers and markup. All product and member text is escaped here or by callers.
 */
import type { ReorderAlert } from '../../shared/contracts/events.ts';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

export function productTitle(alert: ReorderAlert): string {
  const name = alert.product.name ?? alert.sku;
  return alert.product.brand ? `${alert.product.brand} — ${name}` : name;
}

export function daysOfCoverText(alert: ReorderAlert): string {
  const cover = alert.stock?.daysOfCover;
  if (alert.stock === null) return 'no stock record';
  if (cover === null || cover === undefined) return 'no recent sales';
  return `${cover < 10 ? cover.toFixed(1) : Math.round(cover)} days`;
}

export function regionsText(alert: ReorderAlert, limit = 4): string {
  if (alert.topRegions.length === 0) return 'global';
  return alert.topRegions
    .slice(0, limit)
    .map((r) => `${r.country} ${Math.round(r.share * 100)}%`)
    .join(', ');
}

export function headline(alert: ReorderAlert): string {
  const verb = { new: 'Rising', escalated: 'Escalated', cooled: 'Cooling down' }[alert.status];
  return `${alert.priority} ${verb}: ${productTitle(alert)} (×${alert.uplift.toFixed(1)})`;
}

const BLOB_URL = /^blob:sha256:([0-9a-f]{64})$/;

/** The blob store hex digest of a `blob:sha256:…` photo reference, or undefined. */
export function blobDigest(imageUrl: string): string | undefined {
  return BLOB_URL.exec(imageUrl)?.[1];
}

/**
 * Where a browser should load a photo from: https URLs as they are, blob references through the
 * notifier's own /blobs route (under `base`, the inbox's URL, when given), anything else (http,
 * data:, javascript:) not at all.
 */
export function photoSrc(imageUrl: string, base?: string): string | undefined {
  const digest = blobDigest(imageUrl);
  if (digest) {
    const route = `blobs/sha256/${digest}`;
    // Relative to the base as a directory: keeps a path prefix (https://host/trend-radar/) and
    // never doubles the slash, which the inbox answers with 404.
    return base ? new URL(route, base.endsWith('/') ? base : `${base}/`).href : `/${route}`;
  }
  try {
    return new URL(imageUrl).protocol === 'https:' ? imageUrl : undefined;
  } catch {
    return undefined;
  }
}

export interface SparklineOptions {
  width?: number;
  height?: number;
  stroke?: string;
  fill?: string;
}

/**
 * The alert's weighted-count series as a small SVG line chart. Fixed-size coordinates so the same
 * markup renders inline in the inbox and, through sharp, as a PNG in e-mails (mail clients drop SVG).
 */
export function sparklineSvg(values: readonly number[], options: SparklineOptions = {}): string {
  const { width = 240, height = 60, stroke = '#b3122e', fill = '#b3122e22' } = options;
  const pad = 4;
  const finite = values.map((v) => (Number.isFinite(v) ? v : 0));
  const points = finite.length === 1 ? [finite[0]!, finite[0]!] : finite;
  const max = Math.max(...points, 0);
  const min = Math.min(...points, 0);
  const span = max - min || 1;
  const x = (i: number) => pad + (i * (width - 2 * pad)) / Math.max(points.length - 1, 1);
  const y = (v: number) => height - pad - ((v - min) * (height - 2 * pad)) / span;
  const line = points.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const area =
    points.length > 0
      ? `${x(0).toFixed(1)},${height - pad} ${line} ${x(points.length - 1).toFixed(1)},${height - pad}`
      : '';
  const last = points.length > 0 ? points[points.length - 1]! : 0;
  const label = `trend over ${values.length} windows, latest ${last.toFixed(1)}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(label)}">` +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>` +
    (points.length > 0
      ? `<polygon points="${area}" fill="${escapeHtml(fill)}"/>` +
        `<polyline points="${line}" fill="none" stroke="${escapeHtml(stroke)}" stroke-width="2" stroke-linejoin="round"/>` +
        `<circle cx="${x(points.length - 1).toFixed(1)}" cy="${y(last).toFixed(1)}" r="3" fill="${escapeHtml(stroke)}"/>`
      : '') +
    '</svg>'
  );
}
