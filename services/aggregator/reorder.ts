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

export function adviseReorder(
  inventory: InventoryLevel | undefined,
  uplift: number,
  score: number,
  settings: ReorderSettings,
): ReorderAdvice {
  const strong = uplift >= 2 * settings.minUplift || score >= -2 * Math.log10(settings.alpha);
  if (!inventory) return { stock: null, suggestedReorderQty: null, priority: strong ? 'P2' : 'P3' };
  const demandUplift = 1 + settings.demandElasticity * Math.max(0, uplift - 1);
  const dailyDemand = inventory.dailySales * demandUplift;
  const leadTimeDemand = dailyDemand * inventory.leadTimeDays;
  // Demand over the lead time taken as Poisson: its standard deviation is √mean.
  const safetyStock = settings.serviceLevelZ * Math.sqrt(leadTimeDemand);
  const quantity = Math.max(
    0,
    Math.ceil(leadTimeDemand + safetyStock - inventory.onHand - inventory.onOrder),
  );
  const cover = dailyDemand > 0 ? inventory.onHand / dailyDemand : null;
  // Judged on the exact cover: rounded for display, 9.96 days would read as 10 and not run out.
  const runsOutBeforeRestock = cover !== null && cover < inventory.leadTimeDays;
  const priority = runsOutBeforeRestock && strong ? 'P1' : runsOutBeforeRestock || strong ? 'P2' : 'P3';
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
