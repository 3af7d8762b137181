/**
 * Decides who gets an alert on which channel and sends it, consulting the delivery ledger first
 * and writing to it after each successful send. Every (buyer, channel) pair is delivered on its
 * own, so one buyer's broken webhook neither delays nor blocks anyone else. Also assembles each
 * buyer's daily digest.
 */
import type { BlobStore } from '../../shared/blobstore/blob-store.ts';
import type { ReorderAlert } from '../../shared/contracts/events.ts';
import { PermanentError } from '../../shared/kafka/codec.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import { Counter, type Registry } from '../../shared/observability/metrics.ts';
import {
  availableBlobDigests,
  type EmailItem,
  type Mailer,
  type MailThread,
  messageId,
  renderAlertEmail,
} from './email.ts';
import type { Card } from './inbox-state.ts';
import { type DeliveryChannel, type DeliveryLedger, ledgerKey } from './ledger.ts';
import { earlierAlerts } from './present.ts';
import { type Buyer, followReasons, instantChannels, type Subscriptions } from './subscriptions.ts';
import { postWebhook, slackMessage } from './webhook.ts';

export interface DelivererOptions {
  subscriptions: Subscriptions;
  ledger: DeliveryLedger;
  blobs: BlobStore;
  mailer?: Mailer;
  webhook: { secret?: string; attempts: number; backoffMs: number; timeoutMs: number };
  inboxUrl?: string;
  /** ISO 4217 code of catalogue prices, for order values (NOTIFIER_CURRENCY). */
  currency?: string;
  /** The clock messages are dated against (an alert delivered late says so). */
  now?: () => Date;
  logger: Logger;
  registry?: Registry;
}

/** What the consumer gives one delivery: a heartbeat to keep its group session while sending. */
export interface DeliverContext {
  heartbeat?: () => Promise<void>;
  /**
   * Every alert of the alert's episode known so far, oldest first (the inbox's view of the alerts
   * topic): messages say what changed since the previous one, and e-mails thread under it.
   */
  episode?: readonly ReorderAlert[];
}

/** One (buyer, channel) pair of an alert. */
export interface DeliveryPair {
  buyer: string;
  channel: DeliveryChannel;
}

export interface DeliveryFailure extends DeliveryPair {
  error: string;
}

export interface DeliveryReport {
  /** Sent now. */
  delivered: DeliveryPair[];
  /** Already in the ledger (served earlier), or rejected earlier by this process. */
  skipped: DeliveryPair[];
  /** Rejected for good (a webhook's 4xx): logged and counted, never retried. */
  rejected: DeliveryFailure[];
}

/**
 * Some pairs of an alert failed in a way worth retrying. The alert is retried as a whole (the
 * consumer's retries); pairs already served are in the ledger and are skipped then.
 */
export class DeliveryIncompleteError extends Error {
  override name = 'DeliveryIncompleteError';
  constructor(
    readonly alertId: string,
    readonly failures: DeliveryFailure[],
    readonly report: DeliveryReport,
  ) {
    super(
      `${failures.length} delivery(ies) of alert ${alertId} failed and will be retried (${report.delivered.length} sent, ${report.skipped.length} already sent, ${report.rejected.length} rejected): ${failures
        .map((f) => `${f.buyer}/${f.channel}: ${f.error}`)
        .join('; ')}`,
    );
  }
}

/** Digests list at most this many alerts, most urgent first, and only those raised in the last week. */
const DIGEST_LIMIT = 50;
const DIGEST_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;
const PRIORITY_RANK = { P1: 0, P2: 1, P3: 2 } as const;
/** Heartbeat period while sending (kafkajs sends at most one heartbeat per 3 s anyway). */
const HEARTBEAT_EVERY_MS = 3_000;
/** Pairs rejected for good that this process remembers, so an alert's retry does not re-send them. */
const REJECTED_MEMORY = 10_000;

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class Deliverer {
  private readonly inFlight = new Map<string, Promise<boolean>>();
  /** Ledger keys of pairs rejected for good, oldest first (bounded by REJECTED_MEMORY). */
  private readonly rejectedPairs = new Set<string>();
  private readonly sent: Counter<'channel'> | undefined;
  private readonly failed: Counter<'channel' | 'kind'> | undefined;

  constructor(private readonly options: DelivererOptions) {
    if (options.registry) {
      this.sent = new Counter({
        name: 'trendradar_notifications_sent_total',
        help: 'Notifications delivered to buyers, by channel.',
        labelNames: ['channel'],
        registers: [options.registry],
      });
      this.failed = new Counter({
        name: 'trendradar_notifications_failed_total',
        help: 'Failed notifications, by channel and kind (rejected: not retried; transient: retried).',
        labelNames: ['channel', 'kind'],
        registers: [options.registry],
      });
    }
  }

  /**
   * Delivers one alert on every instant channel of every follower, each (buyer, channel) pair on
   * its own: one buyer's failure never keeps the alert from the others. Pairs already in the
   * ledger are skipped. A rejection (PermanentError, e.g. a webhook's 4xx) is logged and counted
   * and not retried; if any pair failed otherwise, throws DeliveryIncompleteError (transient) after
   * trying all the others, so the consumer retries the alert and only the failed pairs are sent.
   * With `context.heartbeat`, heartbeats every few seconds while sending.
   */
  async deliver(alert: ReorderAlert, context: DeliverContext = {}): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: [], skipped: [], rejected: [] };
    const failures: DeliveryFailure[] = [];
    await this.withHeartbeat(context.heartbeat, async () => {
      for (const buyer of this.options.subscriptions.buyers) {
        const reasons = followReasons(buyer, alert);
        if (reasons.length === 0) continue;
        for (const channel of instantChannels(buyer, alert)) {
          const pair = { buyer: buyer.id, channel };
          if (this.rejectedPairs.has(ledgerKey(buyer.id, channel, alert.alertId))) {
            report.skipped.push(pair);
            continue;
          }
          try {
            const sentNow = await this.once(buyer.id, channel, alert.alertId, () =>
              channel === 'webhook'
                ? this.sendWebhook(buyer, alert, reasons, context.episode)
                : this.sendEmail(buyer, alert, reasons, context.episode),
            );
            (sentNow ? report.delivered : report.skipped).push(pair);
          } catch (error) {
            const failure = { ...pair, error: errorText(error) };
            if (error instanceof PermanentError) {
              this.rememberRejected(ledgerKey(buyer.id, channel, alert.alertId));
              report.rejected.push(failure);
              this.failed?.inc({ channel, kind: 'rejected' });
              this.options.logger.error(
                { ...failure, alertId: alert.alertId },
                'alert not delivered: rejected, not retried',
              );
            } else {
              failures.push(failure);
              this.failed?.inc({ channel, kind: 'transient' });
              this.options.logger.warn(
                { ...failure, alertId: alert.alertId },
                'alert not delivered yet: will be retried',
              );
            }
          }
        }
      }
    });
    if (failures.length > 0) throw new DeliveryIncompleteError(alert.alertId, failures, report);
    return report;
  }

  /**
   * Sends `buyer` one e-mail listing, per episode they follow, the state that matters (the card's
   * latest alert, told against the episode's history): live episodes first, most urgent first,
   * then those that ended. Leaves out episodes already in a digest at this state and those the
   * buyer acted on (ordered, snoozed, acknowledged: `cards` are computed for this buyer). Returns
   * how many episodes it listed (0: nothing sent).
   */
  async sendDigest(buyerId: string, cards: Card[], now = new Date()): Promise<number> {
    const { ledger, mailer, blobs, inboxUrl, currency } = this.options;
    const buyer = this.options.subscriptions.buyers.find((b) => b.id === buyerId);
    if (!buyer?.email || !mailer) return 0;
    const items: EmailItem[] = cards
      .filter((c) => c.state === 'open' || c.state === 'cooled')
      .filter((c) => now.getTime() - Date.parse(c.alert.raisedAt) <= DIGEST_HORIZON_MS)
      .filter((c) => !ledger.has(buyer.id, 'digest', c.alert.alertId))
      .map((c) => ({ alert: c.alert, reasons: followReasons(buyer, c.alert), history: c.history }))
      .filter((item) => item.reasons.length > 0)
      .sort(
        (a, b) =>
          Number(a.alert.status === 'cooled') - Number(b.alert.status === 'cooled') ||
          PRIORITY_RANK[a.alert.priority] - PRIORITY_RANK[b.alert.priority] ||
          Date.parse(b.alert.raisedAt) - Date.parse(a.alert.raisedAt),
      )
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
      { now, ...(currency ? { currency } : {}) },
    );
    // Keyed on what it lists, not just the day: a digest re-sent after a crash is recognisably the
    // same mail, while a second digest that day (other alerts) is not dropped as its duplicate.
    const listed = JSON.stringify(alerts.map((a) => a.alertId).sort());
    await mailer.send(buyer.email, rendered, messageId(buyer.id, `digest|${localDate}|${listed}`));
    for (const alert of alerts) await ledger.record(buyer.id, 'digest', alert.alertId, now);
    this.sent?.inc({ channel: 'digest' });
    this.options.logger.info({ buyer: buyer.id, alerts: items.length }, 'digest sent');
    return items.length;
  }

  /** Sends unless the ledger has the pair; true when it sent now. */
  private async once(
    buyer: string,
    channel: DeliveryChannel,
    alertId: string,
    send: () => Promise<void>,
  ): Promise<boolean> {
    const key = ledgerKey(buyer, channel, alertId);
    // The same alert read twice at once (e.g. a replayed copy) waits for the first send, then skips.
    const running = this.inFlight.get(key);
    if (running) return running.then(() => false);
    if (this.options.ledger.has(buyer, channel, alertId)) return false;
    const work = (async () => {
      await send();
      await this.options.ledger.record(buyer, channel, alertId);
      this.sent?.inc({ channel });
      this.options.logger.info({ buyer, channel, alertId }, 'alert delivered');
      return true;
    })();
    this.inFlight.set(key, work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private rememberRejected(key: string): void {
    this.rejectedPairs.add(key);
    if (this.rejectedPairs.size > REJECTED_MEMORY) {
      const oldest = this.rejectedPairs.values().next().value;
      if (oldest !== undefined) this.rejectedPairs.delete(oldest);
    }
  }

  /**
   * Runs `work` while heartbeating every few seconds: a slow or unresponsive receiver (timeouts,
   * retries with backoff) must not outlast the consumer's session. A failed heartbeat (e.g. a
   * rebalance) is only logged: the ledger keeps a re-delivered alert from being sent twice.
   */
  private async withHeartbeat(
    heartbeat: (() => Promise<void>) | undefined,
    work: () => Promise<void>,
  ): Promise<void> {
    if (!heartbeat) return work();
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) =>
        this.options.logger.debug({ error: errorText(error) }, 'heartbeat while sending failed'),
      );
    }, HEARTBEAT_EVERY_MS);
    try {
      await work();
    } finally {
      clearInterval(timer);
    }
  }

  private presentContext(buyer: Buyer, episode: readonly ReorderAlert[] | undefined) {
    const { currency, now } = this.options;
    return {
      timeZone: buyer.timeZone,
      now: now ? now() : new Date(),
      ...(episode ? { history: episode } : {}),
      ...(currency ? { currency } : {}),
    };
  }

  private async sendWebhook(
    buyer: Buyer,
    alert: ReorderAlert,
    reasons: string[],
    episode: readonly ReorderAlert[] | undefined,
  ): Promise<void> {
    const { webhook, inboxUrl } = this.options;
    const message = slackMessage(alert, reasons, inboxUrl, {
      ...this.presentContext(buyer, episode),
      buyer: buyer.id,
    });
    await postWebhook({
      url: buyer.channels.webhook!,
      secret: webhook.secret!,
      alertId: alert.alertId,
      body: JSON.stringify(message),
      attempts: webhook.attempts,
      backoffMs: webhook.backoffMs,
      timeoutMs: webhook.timeoutMs,
    });
  }

  private async sendEmail(
    buyer: Buyer,
    alert: ReorderAlert,
    reasons: string[],
    episode: readonly ReorderAlert[] | undefined,
  ): Promise<void> {
    const { mailer, blobs, inboxUrl } = this.options;
    const available = await availableBlobDigests([alert], blobs);
    const { now, currency, history } = this.presentContext(buyer, episode);
    const rendered = renderAlertEmail(
      [{ alert, reasons, ...(history ? { history } : {}) }],
      buyer,
      'alert',
      inboxUrl,
      undefined,
      available,
      { now, ...(currency ? { currency } : {}) },
    );
    await mailer!.send(
      buyer.email!,
      rendered,
      messageId(buyer.id, `alert|${alert.alertId}`),
      this.thread(buyer, alert, episode),
    );
  }

  /** The e-mails this buyer was sent for earlier alerts of the episode (per the ledger), oldest first. */
  private thread(
    buyer: Buyer,
    alert: ReorderAlert,
    episode: readonly ReorderAlert[] | undefined,
  ): MailThread | undefined {
    const references = earlierAlerts(alert, episode)
      .filter((a) => this.options.ledger.has(buyer.id, 'email', a.alertId))
      .map((a) => messageId(buyer.id, `alert|${a.alertId}`));
    return references.length > 0 ? { inReplyTo: references.at(-1)!, references } : undefined;
  }
}

/** `HH:MM` local time → a daily cron expression (node-cron applies the buyer's time zone). */
export function dailyCron(at: string): string {
  const [hours, minutes] = at.split(':').map(Number);
  return `${minutes} ${hours} * * *`;
}
