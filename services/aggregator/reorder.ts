/**
 * What a buyer should do about a rising product, pure: expected demand over the lead time with
 * the trend's uplift, plus safety stock, minus what is on hand and on order; and how urgent it is.
 */
import type { InventoryLevel } from '../../shared/contracts/events.ts';

export interface ReorderSettings {
  /** Share of the social uplift expected to show in sales (0: none, 1: all of it). */
  demandElasticity: number;
  /** Safety factor for the demand over the lead time (1.65 ≈ 95 % service level). */
  serviceLevelZ: number;
  /** Days of the lead time the trend's uplift is expected to last; demand is as usual after. */
  trendHorizonDays: number;
  minUplift: number;
  alpha: number;
}

export interface StockView {
  onHand: number;
  onOrder: number;
  leadTimeDays: number;
  dailySales: number;
  daysOfCover: number | null;
}

export interface ReorderAdvice {
  stock: StockView | null;
  suggestedReorderQty: number | null;
  priority: 'P1' | 'P2' | 'P3';
}

/** A strong trend: its detecting sub-test's uplift or its score well past the alert's own gates. */
export function isStrongTrend(
  detectionUplift: number,
  score: number,
  settings: Pick<ReorderSettings, 'minUplift' | 'alpha'>,
): boolean {
  return detectionUplift >= 2 * settings.minUplift || score >= -2 * Math.log10(settings.alpha);
}

/** `uplift`: the expected multiple of demand (the alert's window against its baseline). */
export function adviseReorder(
  inventory: InventoryLevel | undefined,
  uplift: number,
  strong: boolean,
  settings: ReorderSettings,
): ReorderAdvice {
  if (!inventory) return { stock: null, suggestedReorderQty: null, priority: strong ? 'P2' : 'P3' };
  const demandUplift = 1 + settings.demandElasticity * Math.max(0, uplift - 1);
  const dailyDemand = inventory.dailySales * demandUplift;
  // At least a day's demand: with a lead time of 0 an empty shelf would otherwise need nothing.
  const leadDays = Math.max(1, inventory.leadTimeDays);
  // An hour's social uplift is not a forecast for a season: past the trend's horizon, usual demand.
  const trendDays = Math.min(leadDays, settings.trendHorizonDays);
  const leadTimeDemand = dailyDemand * trendDays + inventory.dailySales * (leadDays - trendDays);
  // Demand over the lead time taken as Poisson: its standard deviation is √mean.
  const safetyStock = settings.serviceLevelZ * Math.sqrt(leadTimeDemand);
  // Without recent sales there is no demand to size an order on (an ERP's figure falls to 0 when
  // the shelf is empty): the quantity is unknown, not 0.
  const quantity =
    dailyDemand > 0
      ? Math.max(0, Math.ceil(leadTimeDemand + safetyStock - inventory.onHand - inventory.onOrder))
      : null;
  const available = Math.max(0, inventory.onHand); // a negative figure is a backorder
  const cover = dailyDemand > 0 ? available / dailyDemand : available === 0 ? 0 : null;
  // Judged on the exact cover: rounded for display, 9.96 days would read as 10 and not run out.
  // An empty shelf has run out whatever the lead time.
  // Against the lead time the order is sized on (at least a day).
  const runsOutBeforeRestock = available === 0 || (cover !== null && cover < leadDays);
  let priority: ReorderAdvice['priority'] =
    runsOutBeforeRestock && strong ? 'P1' : runsOutBeforeRestock || strong ? 'P2' : 'P3';
  // What is on order already covers the demand: urgent to watch, nothing to order.
  if (priority === 'P1' && quantity === 0) priority = 'P2';
  return {
    stock: {
      onHand: inventory.onHand,
      onOrder: inventory.onOrder,
      leadTimeDays: inventory.leadTimeDays,
      dailySales: inventory.dailySales,
      daysOfCover: cover === null ? null : round1(cover),
    },
    suggestedReorderQty: quantity,
    priority,
  };
}

export const PRIORITY_RANK = { P1: 1, P2: 2, P3: 3 } as const;

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
