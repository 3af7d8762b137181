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
  blobDigest,
  daysOfCoverText,
  escapeHtml,
  headline,
  productTitle,
  regionsText,
  sparklineSvg,
} from './present.ts';
import type { Buyer } from './subscriptions.ts';

export interface EmailItem {
  alert: ReorderAlert;
  reasons: string[];
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
  buyer: Pick<Buyer, 'name'>,
  kind: 'alert' | 'digest',
  inboxUrl?: string,
  digestDate?: string,
  /** Blob digests present in the blob store; photos missing from it are left out, not shown broken. */
  availableBlobs?: ReadonlySet<string>,
): RenderedEmail {
  const inline: InlineImage[] = [];
  const sections = items.map(({ alert, reasons }, index) => {
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
    const stock = alert.stock;
    const rows: Array<[string, string]> = [
      ['Regions', regionsText(alert)],
      ['Stock on hand', stock ? String(stock.onHand) : 'no stock record'],
      ['On order', stock ? String(stock.onOrder) : '—'],
      ['Days of cover', daysOfCoverText(alert)],
      [
        'Suggested reorder quantity',
        alert.suggestedReorderQty === null ? '—' : String(alert.suggestedReorderQty),
      ],
      ['Members', String(alert.distinctMembers)],
    ];
    return `
<div style="border:1px solid #e4e0da;border-radius:10px;padding:16px;margin:0 0 16px">
  <h2 style="font-size:18px;margin:0 0 4px">${escapeHtml(headline(alert))}</h2>
  <p style="color:#6b6660;margin:0 0 12px">SKU ${escapeHtml(alert.sku)} · ${escapeHtml(alert.product.category ?? 'uncategorised')} · because you follow ${escapeHtml(reasons.join(', '))}</p>
  <div>${photos.join('')}</div>
  <p style="margin:8px 0"><img src="cid:${escapeHtml(sparkCid)}" alt="trend sparkline" width="240" height="60"></p>
  <table style="border-collapse:collapse" cellpadding="4">
    ${rows.map(([k, v]) => `<tr><td style="color:#6b6660">${escapeHtml(k)}</td><td><strong>${escapeHtml(v)}</strong></td></tr>`).join('\n    ')}
  </table>
</div>`;
  });
  const title =
    kind === 'digest'
      ? `Your Trend Radar digest${digestDate ? ` for ${digestDate}` : ''}: ${items.length} alert${items.length === 1 ? '' : 's'}`
      : headline(items[0]!.alert);
  const link = inboxUrl
    ? `<p><a href="${escapeHtml(inboxUrl)}" style="color:#b3122e">Open the buyer inbox</a> to acknowledge, snooze or mark as ordered.</p>`
    : '';
  const html = `<!doctype html><html><body style="font-family:Helvetica,Arial,sans-serif;color:#1d1b19;max-width:640px">
<p>Hello ${escapeHtml(buyer.name)},</p>
${sections.join('\n')}
${link}
</body></html>`;
  const text = [
    `Hello ${buyer.name},`,
    '',
    ...items.map(
      ({ alert }) =>
        `${headline(alert)}\n  ${productTitle(alert)} (SKU ${alert.sku})\n  regions ${regionsText(alert)}; stock ${alert.stock?.onHand ?? 'n/a'}; cover ${daysOfCoverText(alert)}; suggested reorder ${alert.suggestedReorderQty ?? 'n/a'}`,
    ),
    ...(inboxUrl ? ['', `Inbox: ${inboxUrl}`] : []),
  ].join('\n');
  return { subject: title, html, text, inline };
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
  send(to: string, rendered: RenderedEmail, id: string): Promise<void>;
  close(): void;
}

export function createMailer(smtpUrl: string, from: string, blobs: BlobStore): Mailer {
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send(to, rendered, id) {
      await transport.sendMail({
        from,
        to,
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        messageId: id,
        attachments: await inlineAttachments(rendered.inline, blobs),
      });
    },
    close: () => transport.close(),
  };
}
