/**
 * Decides who gets an alert on which channel and sends it, consulting the delivery ledger first
 * and writing to it after each successful send. Also assembles each buyer's daily digest.
 */
import type { BlobStore } from '../../shared/blobstore/blob-store.ts';
import type { ReorderAlert } from '../../shared/contracts/events.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import { Counter, type Registry } from '../../shared/observability/metrics.ts';
import { availableBlobDigests, type EmailItem, type Mailer, messageId, renderAlertEmail } from './email.ts';
import type { Card } from './inbox-state.ts';
import { type DeliveryChannel, type DeliveryLedger, ledgerKey } from './ledger.ts';
import { type Buyer, followReasons, instantChannels, type Subscriptions } from './subscriptions.ts';
import { postWebhook, slackMessage } from './webhook.ts';

export interface DelivererOptions {
  subscriptions: Subscriptions;
  ledger: DeliveryLedger;
  blobs: BlobStore;
  mailer?: Mailer;
  webhook: { secret?: string; attempts: number; backoffMs: number; timeoutMs: number };
  inboxUrl?: string;
  logger: Logger;
  registry?: Registry;
}

/** Digests list at most this many alerts, most urgent first, and only those raised in the last week. */
const DIGEST_LIMIT = 50;
const DIGEST_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;
const PRIORITY_RANK = { P1: 0, P2: 1, P3: 2 } as const;

export class Deliverer {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly sent: Counter<'channel'> | undefined;

  constructor(private readonly options: DelivererOptions) {
    if (options.registry) {
      this.sent = new Counter({
        name: 'trendradar_notifications_sent_total',
        help: 'Notifications delivered to buyers, by channel.',
        labelNames: ['channel'],
        registers: [options.registry],
      });
    }
  }

  /** Delivers one alert on every instant channel of every follower; already-delivered pairs are skipped. */
  async deliver(alert: ReorderAlert): Promise<void> {
    for (const buyer of this.options.subscriptions.buyers) {
      const reasons = followReasons(buyer, alert);
      if (reasons.length === 0) continue;
      for (const channel of instantChannels(buyer, alert)) {
        await this.once(buyer.id, channel, alert.alertId, () =>
          channel === 'webhook'
            ? this.sendWebhook(buyer, alert, reasons)
            : this.sendEmail(buyer, alert, reasons),
        );
      }
    }
  }

  /**
   * Sends `buyer` one e-mail with the cards they follow that were in no digest yet. Returns how
   * many alerts it listed (0: nothing sent).
   */
  async sendDigest(buyerId: string, cards: Card[], now = new Date()): Promise<number> {
    const { ledger, mailer, blobs, inboxUrl } = this.options;
    const buyer = this.options.subscriptions.buyers.find((b) => b.id === buyerId);
    if (!buyer?.email || !mailer) return 0;
    const items: EmailItem[] = cards
      .filter((c) => now.getTime() - Date.parse(c.alert.raisedAt) <= DIGEST_HORIZON_MS)
      .filter((c) => !ledger.has(buyer.id, 'digest', c.alert.alertId))
      .map((c) => ({ alert: c.alert, reasons: followReasons(buyer, c.alert) }))
      .filter((item) => item.reasons.length > 0)
      .sort((a, b) => PRIORITY_RANK[a.alert.priority] - PRIORITY_RANK[b.alert.priority])
      .slice(0, DIGEST_LIMIT);
    if (items.length === 0) return 0;
    const localDate = now.toLocaleDateString('en-CA', { timeZone: buyer.timeZone });
    const alerts = items.map((i) => i.alert);
    const rendered = renderAlertEmail(
      items,
      buyer,
      'digest',
      inboxUrl,
      localDate,
      await availableBlobDigests(alerts, blobs),
    );
    // One Message-ID per buyer and day: a digest re-sent after a crash is recognisably the same mail.
    await mailer.send(buyer.email, rendered, messageId(buyer.id, `digest|${localDate}`));
    for (const alert of alerts) await ledger.record(buyer.id, 'digest', alert.alertId, now);
    this.sent?.inc({ channel: 'digest' });
    this.options.logger.info({ buyer: buyer.id, alerts: items.length }, 'digest sent');
    return items.length;
  }

  private async once(
    buyer: string,
    channel: DeliveryChannel,
    alertId: string,
    send: () => Promise<void>,
  ): Promise<void> {
    const key = ledgerKey(buyer, channel, alertId);
    // The same alert read twice at once (e.g. a replayed copy) waits for the first send, then skips.
    const running = this.inFlight.get(key);
    if (running) return running;
    if (this.options.ledger.has(buyer, channel, alertId)) return;
    const work = (async () => {
      await send();
      await this.options.ledger.record(buyer, channel, alertId);
      this.sent?.inc({ channel });
      this.options.logger.info({ buyer, channel, alertId }, 'alert delivered');
    })();
    this.inFlight.set(key, work);
    try {
      await work;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async sendWebhook(buyer: Buyer, alert: ReorderAlert, reasons: string[]): Promise<void> {
    const { webhook, inboxUrl } = this.options;
    await postWebhook({
      url: buyer.channels.webhook!,
      secret: webhook.secret!,
      alertId: alert.alertId,
      body: JSON.stringify(slackMessage(alert, reasons, inboxUrl)),
      attempts: webhook.attempts,
      backoffMs: webhook.backoffMs,
      timeoutMs: webhook.timeoutMs,
    });
  }

  private async sendEmail(buyer: Buyer, alert: ReorderAlert, reasons: string[]): Promise<void> {
    const { mailer, blobs, inboxUrl } = this.options;
    const available = await availableBlobDigests([alert], blobs);
    const rendered = renderAlertEmail([{ alert, reasons }], buyer, 'alert', inboxUrl, undefined, available);
    await mailer!.send(buyer.email!, rendered, messageId(buyer.id, `alert|${alert.alertId}`));
  }
}

/** `HH:MM` local time → a daily cron expression (node-cron applies the buyer's time zone). */
export function dailyCron(at: string): string {
  const [hours, minutes] = at.split(':').map(Number);
  return `${minutes} ${hours} * * *`;
}
