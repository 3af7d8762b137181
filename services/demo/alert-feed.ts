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
  const product = [alert.product.brand, alert.product.name ?? alert.sku].filter(Boolean).join(' ');
  const regions = alert.topRegions
    .slice(0, 3)
    .map((r) => `${r.country} ${Math.round(r.share * 100)}%`)
    .join(', ');
  const stock = alert.stock
    ? `on hand ${alert.stock.onHand}, cover ${alert.stock.daysOfCover === null ? '∞' : alert.stock.daysOfCover.toFixed(1)} d`
    : 'no stock record';
  const order = alert.suggestedReorderQty === null ? '' : `, reorder ${alert.suggestedReorderQty}`;
  return `${alert.priority} ${alert.status.toUpperCase().padEnd(9)} ${alert.sku} (${product}) ×${alert.uplift.toFixed(1)} in ${regions || 'global'} — ${stock}${order} [window ending ${alert.windowEnd}]`;
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
