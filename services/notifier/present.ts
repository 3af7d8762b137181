/**
 * How an alert reads for a buyer, shared by the inbox, e-mails and webhooks: pure functions from
 * the alert to text, numbers and markup. All product and member text is escaped here or by callers.
 */
import { createHash } from 'node:crypto';
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

/** Every top region (the ones region followers are routed on), with its share. */
export function regionsText(alert: ReorderAlert, limit = Number.POSITIVE_INFINITY): string {
  if (alert.topRegions.length === 0) return 'global';
  return alert.topRegions
    .slice(0, limit)
    .map((r) => `${r.country} ${Math.round(r.share * 100)}%`)
    .join(', ');
}

/** The uplift with its meaning: the current rate of interest over the product's usual rate. */
export function upliftText(uplift: number): string {
  return `×${uplift.toFixed(1)} usual interest`;
}

export function headline(alert: ReorderAlert): string {
  if (alert.status === 'cooled') return `Rise over: ${productTitle(alert)} — no new order for the trend`;
  const verb = alert.status === 'new' ? 'Rising' : 'Escalated';
  return `${alert.priority} ${verb}: ${productTitle(alert)} (${upliftText(alert.uplift)})`;
}

/** What the presentation knows beyond the alert: its episode, the reader's zone, delivery time. */
export interface PresentContext {
  /** Every alert of the episode known so far, oldest first (may include `alert` itself). */
  history?: readonly ReorderAlert[];
  /** IANA zone dates are written in (default UTC). */
  timeZone?: string;
  /** When the message goes out: an alert older than LATE_AFTER_MS then is marked as late. */
  now?: Date;
  /** ISO 4217 code of catalogue prices, when known (NOTIFIER_CURRENCY). */
  currency?: string;
}

/** An alert delivered more than this long after it was raised says so. */
export const LATE_AFTER_MS = 3 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** "22 Nov, 12:45 CET" in `timeZone`. */
export function formatTime(iso: string | Date, timeZone = 'UTC'): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(typeof iso === 'string' ? new Date(iso) : iso);
}

function formatDay(date: Date, timeZone = 'UTC'): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
  }).format(date);
}

/** The alerts of the episode raised before this one, oldest first. */
export function earlierAlerts(alert: ReorderAlert, history: readonly ReorderAlert[] = []): ReorderAlert[] {
  const at = Date.parse(alert.raisedAt);
  return history.filter((a) => a.alertId !== alert.alertId && Date.parse(a.raisedAt) <= at);
}

/** When the episode started rising: its first alert's window end (= the episode start). */
function episodeStart(alert: ReorderAlert, earlier: readonly ReorderAlert[]): string | undefined {
  if (earlier.length > 0) return earlier[0]!.windowEnd;
  const start = alert.episodeId.slice(alert.episodeId.lastIndexOf('|') + 1);
  return Number.isNaN(Date.parse(start)) ? undefined : start;
}

const units = (n: number | null) => (n === null ? 'no quantity' : `${n.toLocaleString('en-GB')} units`);
const coverShort = (a: ReorderAlert) =>
  a.stock?.daysOfCover == null ? daysOfCoverText(a) : `${daysOfCoverText(a)} of cover`;

/**
 * What changed since the episode's previous alert, in a sentence: for an escalation the figures
 * before and now; for a cooled alert that the rise is over, since when it rose and what it peaked at.
 */
export function changeText(alert: ReorderAlert, context: PresentContext = {}): string | undefined {
  const zone = context.timeZone;
  const earlier = earlierAlerts(alert, context.history);
  if (alert.status === 'cooled') {
    const start = episodeStart(alert, earlier);
    const live = earlier.filter((a) => a.status !== 'cooled');
    const last = live.at(-1);
    const peak = live.reduce<ReorderAlert | undefined>(
      (p, a) => (p && p.uplift >= a.uplift ? p : a),
      undefined,
    );
    const asked = Math.max(0, ...live.map((a) => a.suggestedReorderQty ?? 0));
    return [
      `The rise is over: rising from ${start ? formatTime(start, zone) : 'its first alert'}`,
      last ? ` (last alert ${formatTime(last.raisedAt, zone)})` : '',
      `, no longer rising by ${formatTime(alert.windowEnd, zone)}.`,
      peak ? ` It peaked at ${peak.priority} ${upliftText(peak.uplift)}` : '',
      peak && asked ? `, suggesting up to ${units(asked)} for the trend.` : peak ? '.' : '',
    ].join('');
  }
  if (alert.status !== 'escalated') return undefined;
  const previous = earlier.filter((a) => a.status !== 'cooled').at(-1);
  if (!previous) return undefined;
  const figures = (a: ReorderAlert) =>
    `${a.priority} ×${a.uplift.toFixed(1)}, ${units(a.suggestedReorderQty)} suggested, ${coverShort(a)}`;
  return `Was ${figures(previous)} (${formatTime(previous.raisedAt, zone)}); now ${figures(alert)}.`;
}

/**
 * The date by which to order so the order arrives before the shelf is empty: when the days of
 * cover left after the lead time run out. Undefined without stock or demand figures.
 */
export function orderByText(alert: ReorderAlert, timeZone?: string): string | undefined {
  const stock = alert.stock;
  if (!stock || stock.daysOfCover === null || alert.status === 'cooled') return undefined;
  const slack = stock.daysOfCover - stock.leadTimeDays;
  const lead = `lead time ${stock.leadTimeDays} days`;
  if (slack < 1) return `now: ${daysOfCoverText(alert)} of cover ends before a new order arrives (${lead})`;
  return `${formatDay(new Date(Date.parse(alert.raisedAt) + slack * DAY_MS), timeZone)} (${daysOfCoverText(alert)} of cover, ${lead})`;
}

/** quantity × price, with the currency when known; undefined without both. */
export function orderValueText(alert: ReorderAlert, currency?: string): string | undefined {
  const { price } = alert.product;
  const quantity = alert.suggestedReorderQty;
  if (price === null || quantity === null || quantity === 0) return undefined;
  // The contract carries no currency: without NOTIFIER_CURRENCY the figure is in catalogue prices.
  const amount = (value: number) =>
    currency
      ? new Intl.NumberFormat('en-GB', { style: 'currency', currency, maximumFractionDigits: 0 }).format(
          value,
        )
      : Math.round(value).toLocaleString('en-GB');
  return `${amount(quantity * price)} (${quantity.toLocaleString('en-GB')} × ${currency ? '' : 'list price '}${amount(price)})`;
}

/** "raised 22 Nov, 12:45 CET", and how late it is when delivered more than LATE_AFTER_MS after. */
export function raisedText(alert: ReorderAlert, context: PresentContext = {}): string {
  const raised = `raised ${formatTime(alert.raisedAt, context.timeZone)}`;
  if (!context.now) return raised;
  const age = context.now.getTime() - Date.parse(alert.raisedAt);
  if (age <= LATE_AFTER_MS) return raised;
  const hours = Math.round(age / 3_600_000);
  const ago = hours < 48 ? `${hours} hours` : `${Math.round(hours / 24)} days`;
  return `${raised} — delivered late, ${ago} ago: check the inbox for its current state`;
}

/** What the buyer is asked to do, in one sentence. */
export function adviceText(alert: ReorderAlert): string {
  if (alert.status === 'cooled') {
    const usual =
      alert.suggestedReorderQty && alert.suggestedReorderQty > 0
        ? ` For usual demand (without the trend) the stock calls for ${units(alert.suggestedReorderQty)}.`
        : '';
    return `No new order is suggested for the trend.${usual} Nothing to act on, unless you want to cancel or reduce an order placed for it.`;
  }
  if (alert.suggestedReorderQty === null)
    return 'No quantity can be suggested (no stock record or no recent sales).';
  if (alert.suggestedReorderQty === 0) return 'Stock on hand and on order cover the trend: no order needed.';
  return `Suggested reorder: ${units(alert.suggestedReorderQty)}.`;
}

/** The label and figure rows every channel shows, in order. */
export function factRows(alert: ReorderAlert, context: PresentContext = {}): Array<[string, string]> {
  const stock = alert.stock;
  const cooled = alert.status === 'cooled';
  const rows: Array<[string, string]> = [
    ['Regions', regionsText(alert)],
    [cooled ? 'Last uplift' : 'Uplift', upliftText(alert.uplift)],
    ['Stock on hand', stock ? String(stock.onHand) : 'no stock record'],
    ['On order', stock ? String(stock.onOrder) : '—'],
    ['Lead time', stock ? `${stock.leadTimeDays} days` : '—'],
    ['Days of cover', daysOfCoverText(alert)],
  ];
  const orderBy = orderByText(alert, context.timeZone);
  if (orderBy) rows.push(['Order by', orderBy]);
  const quantity = alert.suggestedReorderQty === null ? '—' : String(alert.suggestedReorderQty);
  rows.push(cooled ? ['Reorder for usual demand', quantity] : ['Suggested reorder quantity', quantity]);
  const value = cooled ? undefined : orderValueText(alert, context.currency);
  if (value) rows.push(['Order value', value]);
  rows.push(['Members', String(alert.distinctMembers)]);
  return rows;
}

/**
 * The inbox link for `buyer`, opening their own view at the alert's card. `base` is the inbox's
 * URL (a path prefix is kept).
 */
export function inboxLink(base: string, buyer?: string, episodeId?: string): string {
  const url = new URL(base);
  if (buyer) url.searchParams.set('buyer', buyer);
  if (episodeId) url.hash = cardAnchor(episodeId);
  return url.href;
}

/** The HTML id of an episode's card in the inbox page (ids carry | and : that fragments mangle). */
export function cardAnchor(episodeId: string): string {
  return `card-${createHash('sha256').update(episodeId).digest('hex').slice(0, 16)}`;
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
