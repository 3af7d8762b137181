/**
 * Slack-compatible webhook delivery. The body is signed like Slack signs its own requests:
 *   X-TrendRadar-Timestamp: <unix seconds>
 *   X-TrendRadar-Signature: v1=<hex HMAC-SHA256(secret, "v1:<timestamp>:<raw body>")>
 * and carries `Idempotency-Key: <alert id>` so a receiver can drop a repeat the notifier could not
 * rule out (e.g. a crash between the receiver's 200 and the ledger write).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { request } from 'undici';
import type { ReorderAlert } from '../../shared/contracts/events.ts';
import { PermanentError } from '../../shared/kafka/codec.ts';
import {
  adviceText,
  changeText,
  factRows,
  headline,
  inboxLink,
  type PresentContext,
  photoSrc,
  productTitle,
  raisedText,
} from './present.ts';

export const SIGNATURE_HEADER = 'x-trendradar-signature';
export const TIMESTAMP_HEADER = 'x-trendradar-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`v1:${timestampSeconds}:${body}`).digest('hex')}`;
}

/** For receivers: true when the signature matches and the timestamp is within `toleranceSeconds`. */
export function verifyWebhook(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  now = Date.now(),
  toleranceSeconds = 300,
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || headers.signature === undefined) return false;
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(headers.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Slack's mrkdwn treats &, < and > as control characters. */
const mrkdwn = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * mrkdwn has no escape for its formatting characters, so product and follow names get look-alikes
 * instead: a `*` in a name would otherwise end the bold headline early or embolden part of it.
 */
const LOOK_ALIKES: Record<string, string> = { '*': '∗', _: 'ˍ', '~': '∼', '`': 'ˋ' };
const mrkdwnName = (text: string) => mrkdwn(text).replace(/[*_~`]/g, (c) => LOOK_ALIKES[c]!);

export interface SlackMessageOptions extends PresentContext {
  /** The buyer the message is for: the inbox link opens their own view. */
  buyer?: string;
}

export function slackMessage(
  alert: ReorderAlert,
  reasons: string[],
  inboxUrl?: string,
  options: SlackMessageOptions = {},
): object {
  // Slack fetches the image itself, so https only. Uploaded photos thus need an https public URL:
  // without NOTIFIER_PUBLIC_URL the inbox URL is the http listener and they are left out, not sent broken.
  const photo = alert.photos
    .map((p) => photoSrc(p.imageUrl, inboxUrl))
    .find((src) => src?.startsWith('https://'));
  // The headline holds the product's brand and name; its other parts carry no control characters.
  const title = mrkdwnName(headline(alert));
  const change = changeText(alert, options);
  const fields = factRows(alert, options)
    .filter(([label]) => label !== 'Members')
    .map(([label, value]) => `*${label}*\n${mrkdwn(value)}`);
  const blocks: object[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*${title}*\nSKU ${mrkdwn(alert.sku)} · ${alert.distinctMembers} members · ${mrkdwn(raisedText(alert, options))} · because you follow ${mrkdwnName(reasons.join(', '))}`,
      },
      ...(photo
        ? { accessory: { type: 'image', image_url: photo, alt_text: productTitle(alert).slice(0, 200) } }
        : {}),
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: mrkdwn([change, adviceText(alert)].filter(Boolean).join('\n')) },
    },
    // Slack shows at most 10 fields in a section.
    { type: 'section', fields: fields.slice(0, 10).map((text) => ({ type: 'mrkdwn', text })) },
  ];
  if (inboxUrl) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Open in the inbox' },
          url: inboxLink(inboxUrl, options.buyer, alert.episodeId),
        },
      ],
    });
  }
  return {
    // Slack formats `text` as mrkdwn too and shows it in notifications: an unescaped <!channel> pings.
    text: title,
    blocks,
    metadata: {
      event_type: 'reorder_alert',
      event_payload: { alertId: alert.alertId, sku: alert.sku, raisedAt: alert.raisedAt },
    },
  };
}

/** The receiver refused the alert (a 4xx other than 408/429): permanent, never retried. */
export class WebhookRejectedError extends PermanentError {
  override name = 'WebhookRejectedError';
}

export interface WebhookDelivery {
  url: string;
  secret: string;
  alertId: string;
  body: string;
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Whether a failed attempt is worth repeating: server errors, throttling and timeouts are. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

export function backoffDelay(attempt: number, baseMs: number, random = Math.random()): number {
  // Exponential with full jitter between 50 % and 100 %, so retries from many alerts spread out.
  return Math.round(baseMs * 2 ** (attempt - 1) * (0.5 + random / 2));
}

/**
 * POSTs until a 2xx, retrying 5xx/429/408 and network errors with exponential backoff. A 4xx is a
 * rejection (bad URL or secret) and is not retried: it throws WebhookRejectedError at once.
 * Returns the number of attempts it took.
 */
export async function postWebhook(delivery: WebhookDelivery): Promise<number> {
  const { now = Date.now, sleep = (ms) => new Promise((r) => setTimeout(r, ms)) } = delivery;
  let lastError: unknown;
  for (let attempt = 1; attempt <= delivery.attempts; attempt++) {
    if (attempt > 1) await sleep(backoffDelay(attempt - 1, delivery.backoffMs));
    const timestamp = Math.floor(now() / 1000);
    try {
      const response = await request(delivery.url, {
        method: 'POST',
        body: delivery.body,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'trend-radar-notifier',
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signWebhook(delivery.secret, timestamp, delivery.body),
          [IDEMPOTENCY_HEADER]: delivery.alertId,
        },
        headersTimeout: delivery.timeoutMs,
        bodyTimeout: delivery.timeoutMs,
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return attempt;
      lastError = new Error(`webhook answered ${response.statusCode}`);
      if (!isRetryableStatus(response.statusCode)) {
        throw new WebhookRejectedError(
          `webhook ${new URL(delivery.url).host} rejected the alert with ${response.statusCode}`,
        );
      }
    } catch (error) {
      if (error instanceof WebhookRejectedError) throw error;
      lastError = error;
    }
  }
  throw new Error(
    `webhook ${new URL(delivery.url).host} failed after ${delivery.attempts} attempts: ${(lastError as Error)?.message ?? lastError}`,
  );
}
