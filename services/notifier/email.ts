/**
 * Alert and digest e-mails. Rendering is pure (`renderAlertEmail`); images are attached inline by
 * content id because mail clients neither run SVG nor fetch from a private blob store: the
 * sparkline becomes a PNG (sharp), uploaded photos are read from the blob store and downsized.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import sharp from 'sharp';
import type { BlobStore } from '../../shared/blobstore/blob-store.ts';
import type { ReorderAlert } from '../../shared/contracts/events.ts';
import {
  adviceText,
  blobDigest,
  changeText,
  escapeHtml,
  factRows,
  headline,
  inboxLink,
  type PresentContext,
  productTitle,
  raisedText,
  sparklineSvg,
} from './present.ts';
import type { Buyer } from './subscriptions.ts';

export interface EmailItem {
  alert: ReorderAlert;
  reasons: string[];
  /** Every alert of the episode known so far, oldest first: what changed is told from it. */
  history?: readonly ReorderAlert[];
}

/** Threads an alert e-mail under the earlier e-mails of its episode to the same buyer. */
export interface MailThread {
  inReplyTo: string;
  references: string[];
}

export interface RenderOptions {
  /** When the mail goes out: alerts raised long before are marked as late. */
  now?: Date;
  /** ISO 4217 code of catalogue prices (NOTIFIER_CURRENCY). */
  currency?: string;
}

export type InlineImage =
  | { cid: string; kind: 'sparkline'; values: number[] }
  | { cid: string; kind: 'blob'; digest: string };

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
  inline: InlineImage[];
}

const MAX_PHOTOS = 4;
const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 24);

export function renderAlertEmail(
  items: EmailItem[],
  buyer: Pick<Buyer, 'name'> & Partial<Pick<Buyer, 'id' | 'timeZone'>>,
  kind: 'alert' | 'digest',
  inboxUrl?: string,
  digestDate?: string,
  /** Blob digests present in the blob store; photos missing from it are left out, not shown broken. */
  availableBlobs?: ReadonlySet<string>,
  options: RenderOptions = {},
): RenderedEmail {
  const inline: InlineImage[] = [];
  const contextOf = (item: EmailItem): PresentContext => ({
    ...(item.history ? { history: item.history } : {}),
    ...(buyer.timeZone ? { timeZone: buyer.timeZone } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.currency ? { currency: options.currency } : {}),
  });
  const link = (alert?: ReorderAlert) =>
    inboxUrl ? inboxLink(inboxUrl, buyer.id, alert?.episodeId) : undefined;
  const renderSection = (item: EmailItem, index: number) => {
    const { alert, reasons } = item;
    const context = contextOf(item);
    const sparkCid = `sparkline-${index}-${hash(alert.alertId)}@trend-radar`;
    inline.push({ cid: sparkCid, kind: 'sparkline', values: alert.series.map((p) => p.weightedCount) });
    const photos = alert.photos.slice(0, MAX_PHOTOS).flatMap((photo, i) => {
      const digest = blobDigest(photo.imageUrl);
      let src: string | undefined;
      if (digest) {
        if (availableBlobs && !availableBlobs.has(digest)) return [];
        const cid = `photo-${index}-${i}-${digest.slice(0, 16)}@trend-radar`;
        inline.push({ cid, kind: 'blob', digest });
        src = `cid:${cid}`;
      } else if (photo.imageUrl.startsWith('https://')) {
        src = photo.imageUrl;
      }
      return src
        ? [
            `<img src="${escapeHtml(src)}" alt="member photo" width="140" style="width:140px;height:auto;border-radius:6px;margin:0 6px 6px 0">`,
          ]
        : [];
    });
    const rows = factRows(alert, context);
    const change = changeText(alert, context);
    const href = link(alert);
    return `
<div style="border:1px solid #e4e0da;border-radius:10px;padding:16px;margin:0 0 16px">
  <h2 style="font-size:18px;margin:0 0 4px">${escapeHtml(headline(alert))}</h2>
  <p style="color:#6b6660;margin:0 0 12px">SKU ${escapeHtml(alert.sku)} · ${escapeHtml(alert.product.category ?? 'uncategorised')} · ${escapeHtml(raisedText(alert, context))} · because you follow ${escapeHtml(reasons.join(', '))}</p>
  ${change ? `<p style="margin:0 0 8px"><strong>${escapeHtml(change)}</strong></p>` : ''}
  <p style="margin:0 0 12px">${escapeHtml(adviceText(alert))}</p>
  <div>${photos.join('')}</div>
  <p style="margin:8px 0"><img src="cid:${escapeHtml(sparkCid)}" alt="trend sparkline" width="240" height="60"></p>
  <table style="border-collapse:collapse" cellpadding="4">
    ${rows.map(([k, v]) => `<tr><td style="color:#6b6660">${escapeHtml(k)}</td><td><strong>${escapeHtml(v)}</strong></td></tr>`).join('\n    ')}
  </table>
  ${href ? `<p style="margin:8px 0 0"><a href="${escapeHtml(href)}" style="color:#b3122e">Open in the inbox</a></p>` : ''}
</div>`;
  };
  // A digest lists live episodes (with their current advice) first, then those that ended.
  const live = items.filter((i) => i.alert.status !== 'cooled');
  const ended = items.filter((i) => i.alert.status === 'cooled');
  let index = 0;
  const next = (item: EmailItem) => renderSection(item, index++);
  const body =
    kind === 'digest'
      ? [
          live.length > 0
            ? `<h1 style="font-size:20px">Rising now (${live.length})</h1>\n${live.map(next).join('\n')}`
            : '',
          ended.length > 0
            ? `<h1 style="font-size:20px">Over: no longer rising (${ended.length})</h1>\n${ended.map(next).join('\n')}`
            : '',
        ].join('\n')
      : items.map(next).join('\n');
  const title =
    kind === 'digest'
      ? `Your Trend Radar digest${digestDate ? ` for ${digestDate}` : ''}: ${digestCount(live.length, ended.length)}`
      : headline(items[0]!.alert);
  const actionable = live.length > 0;
  const inboxHref = kind === 'alert' ? link(items[0]?.alert) : link();
  const footer = inboxHref
    ? `<p><a href="${escapeHtml(inboxHref)}" style="color:#b3122e">Open the buyer inbox</a>${actionable ? ' to acknowledge, snooze or mark as ordered' : ''}.</p>`
    : '';
  const html = `<!doctype html><html><body style="font-family:Helvetica,Arial,sans-serif;color:#1d1b19;max-width:640px">
<p>Hello ${escapeHtml(buyer.name)},</p>
${body}
${footer}
</body></html>`;
  const textItem = (item: EmailItem) => {
    const { alert } = item;
    const context = contextOf(item);
    const change = changeText(alert, context);
    return [
      headline(alert),
      `  ${productTitle(alert)} (SKU ${alert.sku}), ${raisedText(alert, context)}`,
      ...(change ? [`  ${change}`] : []),
      `  ${adviceText(alert)}`,
      `  ${factRows(alert, context)
        .map(([k, v]) => `${k.toLowerCase()} ${v}`)
        .join('; ')}`,
      ...(inboxUrl ? [`  ${link(alert)}`] : []),
    ].join('\n');
  };
  const text = [
    `Hello ${buyer.name},`,
    '',
    ...(kind === 'digest'
      ? [
          ...(live.length > 0 ? ['RISING NOW', ...live.map(textItem), ''] : []),
          ...(ended.length > 0 ? ['OVER: NO LONGER RISING', ...ended.map(textItem)] : []),
        ]
      : items.map(textItem)),
    ...(inboxHref ? ['', `Inbox: ${inboxHref}`] : []),
  ].join('\n');
  return { subject: title, html, text, inline };
}

function digestCount(live: number, ended: number): string {
  const total = `${live + ended} alert${live + ended === 1 ? '' : 's'}`;
  return ended === 0 ? total : `${total} (${live} rising, ${ended} over)`;
}

/** A Message-ID that is the same every time this buyer is sent this message, so MTAs and clients can de-duplicate. */
export function messageId(buyerId: string, key: string): string {
  return `<${hash(`${buyerId}|${key}`)}@trend-radar>`;
}

export async function inlineAttachments(images: InlineImage[], blobs: BlobStore): Promise<Mail.Attachment[]> {
  return Promise.all(
    images.map(async (image): Promise<Mail.Attachment> => {
      if (image.kind === 'sparkline') {
        const svg = sparklineSvg(image.values, { width: 480, height: 120 });
        return {
          cid: image.cid,
          filename: 'trend.png',
          contentType: 'image/png',
          content: await sharp(Buffer.from(svg)).png().toBuffer(),
        };
      }
      const bytes = await blobs.get(`sha256:${image.digest}`);
      const jpeg = await sharp(bytes)
        .rotate()
        .resize({ width: 320, withoutEnlargement: true })
        .jpeg({ quality: 80 })
        .toBuffer();
      return {
        cid: image.cid,
        filename: `photo-${image.digest.slice(0, 12)}.jpg`,
        contentType: 'image/jpeg',
        content: jpeg,
      };
    }),
  );
}

/** Which of the alerts' uploaded photos the blob store actually holds. */
export async function availableBlobDigests(alerts: ReorderAlert[], blobs: BlobStore): Promise<Set<string>> {
  const digests = new Set(
    alerts.flatMap((a) => a.photos.map((p) => blobDigest(p.imageUrl)).filter((d) => d !== undefined)),
  );
  const present = await Promise.all(
    [...digests].map(async (d) => ((await blobs.has(`sha256:${d}`)) ? d : undefined)),
  );
  return new Set(present.filter((d) => d !== undefined));
}

export interface Mailer {
  send(to: string, rendered: RenderedEmail, id: string, thread?: MailThread): Promise<void>;
  close(): void;
}

export function createMailer(smtpUrl: string, from: string, blobs: BlobStore): Mailer {
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send(to, rendered, id, thread) {
      await transport.sendMail({
        from,
        to,
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        messageId: id,
        ...(thread ? { inReplyTo: thread.inReplyTo, references: thread.references } : {}),
        attachments: await inlineAttachments(rendered.inline, blobs),
      });
    },
    close: () => transport.close(),
  };
}
