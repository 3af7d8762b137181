/**
 * Follows the reorder-alerts topic and prints each alert as a buyer would want to read it in a
 * terminal: one line with what, where, how strong, and what to order.
 */
import type { Kafka } from 'kafkajs';
import { type ReorderAlert, ReorderAlert as ReorderAlertSchema } from '../../shared/contracts/events.ts';
import { decode } from '../../shared/kafka/codec.ts';

export interface AlertFeed {
  alerts: ReorderAlert[];
  stop(): Promise<void>;
}

export function formatAlert(alert: ReorderAlert): string {
  if (alert.status === 'cooled') return formatCooled(alert);
  const product = productOf(alert);
  const regions = regionsOf(alert);
  return `${alert.priority} ${alert.status.toUpperCase().padEnd(9)} ${alert.sku} (${product}) ×${alert.uplift.toFixed(1)} in ${regions || 'global'} — ${stockOf(alert)}${orderOf(alert)} [window ending ${alert.windowEnd}]`;
}

/**
 * A cooled alert says the episode is over. It carries the uplift and regions of the episode's last
 * rising alert (new, or escalated as the uplift grew or the stock turned more urgent): printed like
 * a rising one it read as a product still rising. It says instead that the episode ended, when it
 * began and when it cooled, and its peak as alerted. Its series ends where it cooled, hours after
 * the last rising window (AGGREGATOR_COOL_AFTER_MS): the rise is not in it.
 */
function formatCooled(alert: ReorderAlert): string {
  const began = episodeStartOf(alert);
  const regions = regionsOf(alert);
  const when = began ? `rising from ${began}, cooled at ${alert.windowEnd}` : `cooled at ${alert.windowEnd}`;
  const peak = `peak as alerted ×${alert.uplift.toFixed(1)}${regions ? ` in ${regions}` : ''}`;
  return `${alert.priority} ${'COOLED'.padEnd(9)} ${alert.sku} (${productOf(alert)}) episode over: ${when}; ${peak} — ${stockOf(alert)}${orderOf(alert)}`;
}

const productOf = (alert: ReorderAlert) =>
  [alert.product.brand, alert.product.name ?? alert.sku].filter(Boolean).join(' ');

const regionsOf = (alert: ReorderAlert) =>
  alert.topRegions
    .slice(0, 3)
    .map((r) => `${r.country} ${Math.round(r.share * 100)}%`)
    .join(', ');

const stockOf = (alert: ReorderAlert) =>
  alert.stock
    ? `on hand ${alert.stock.onHand}, cover ${alert.stock.daysOfCover === null ? '∞' : alert.stock.daysOfCover.toFixed(1)} d`
    : 'no stock record';

const orderOf = (alert: ReorderAlert) =>
  alert.suggestedReorderQty === null ? '' : `, reorder ${alert.suggestedReorderQty}`;

/** The episode's start, from its id (`${sku}|${episodeStart}`), when it reads as a time. */
function episodeStartOf(alert: ReorderAlert): string | undefined {
  const bar = alert.episodeId.lastIndexOf('|');
  const start = bar < 0 ? '' : alert.episodeId.slice(bar + 1);
  return /^\d{4}-\d{2}-\d{2}T/.test(start) && !Number.isNaN(Date.parse(start)) ? start : undefined;
}

export async function followAlerts(
  kafka: Kafka,
  topic: string,
  groupId: string,
  onAlert: (alert: ReorderAlert) => void,
): Promise<AlertFeed> {
  const consumer = kafka.consumer({ groupId });
  const alerts: ReorderAlert[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const alert = decode(ReorderAlertSchema, message.value);
      alerts.push(alert);
      onAlert(alert);
    },
  });
  return { alerts, stop: () => consumer.disconnect() };
}
