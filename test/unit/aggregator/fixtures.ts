/** Small hand-made event sequences for the aggregator's pure core. */

import {
  defaultAggregatorConfig,
  type TrendSettings,
  trendSettings,
} from '../../../services/aggregator/config.ts';
import type { ProductFacts, TrendTables } from '../../../services/aggregator/trends.ts';
import type { InventoryLevel, Signal, SignalKind } from '../../../shared/contracts/events.ts';

export const T0 = Date.parse('2026-03-02T00:00:00Z');
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export function settings(overrides: Record<string, string> = {}): TrendSettings {
  return trendSettings(defaultAggregatorConfig(overrides));
}

let counter = 0;
export function signal(
  sku: string,
  at: number,
  fields: Partial<Omit<Signal, 'eventTime' | 'sku'>> & { kind?: SignalKind } = {},
): Signal {
  counter++;
  const kind = fields.kind ?? 'upload';
  const memberId = fields.memberId ?? `m${counter}`;
  const postId = fields.postId ?? `p${counter}`;
  return {
    signalId: `s${counter}|${sku}`,
    sku,
    kind,
    postId,
    memberId,
    postMemberId: fields.postMemberId ?? (kind === 'upload' ? memberId : `author-of-${postId}`),
    eventTime: new Date(at).toISOString(),
    country: fields.country ?? 'GB',
    imageUrl: fields.imageUrl ?? `https://img.example/${postId}.jpg`,
    matchScore: fields.matchScore ?? 0.9,
  };
}

export function tables(
  products: Record<string, Partial<ProductFacts>> = {},
  stock: Record<string, Omit<InventoryLevel, 'sku' | 'updatedAt'>> = {},
): TrendTables {
  return {
    product: (sku) => {
      const p = products[sku];
      return p
        ? { style: null, colour: null, name: null, category: null, brand: null, price: null, ...p }
        : undefined;
    },
    inventory: (sku) => {
      const s = stock[sku];
      return s ? { sku, updatedAt: new Date(T0).toISOString(), ...s } : undefined;
    },
  };
}

/** A small seeded generator (mulberry32) for hand-built streams. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
