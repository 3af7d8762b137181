/**
 * The demo's buyers, built from the catalogue the demo runs on: a catch-all "Head of Buying" who
 * follows every category and brand of that catalogue (so the inbox at ?buyer=all-buyer shows the
 * alerts whichever feed is in use, the synthetic one or e.g. the luma feed), plus two buyers of the
 * synthetic catalogue's category families. Pure: the caller reads the feed.
 */
import { CITIES } from '../simulator/scenario.ts';

/** What the buyers are built from: the catalogue's products (as the catalogue sync publishes them). */
export interface DemoCatalogueProduct {
  category: string | null;
  brand: string | null;
}

export const ALL_BUYER_ID = 'all-buyer';

/** Distinct non-blank values, compared the way the notifier matches follows (trimmed, case-insensitive). */
function distinct(values: ReadonlyArray<string | null>): string[] {
  const byKey = new Map<string, string>();
  for (const value of values) {
    const trimmed = value?.trim();
    if (!trimmed) continue;
    const key = trimmed.toLowerCase();
    if (!byKey.has(key)) byKey.set(key, trimmed);
  }
  return [...byKey.values()].sort((a, b) => a.localeCompare(b));
}

/**
 * The subscriptions JSON of the demo (validated by the notifier's parseSubscriptions). The catch-all
 * buyer also follows every country the simulator posts from, so an alert on a product with neither
 * category nor brand (the luma feed has some) still reaches their inbox.
 */
export function demoBuyers(products: ReadonlyArray<DemoCatalogueProduct>) {
  const categories = distinct(products.map((p) => p.category));
  const brands = distinct(products.map((p) => p.brand));
  const regions = [...new Set(CITIES.map((c) => c.country))].sort();
  return {
    buyers: [
      {
        id: ALL_BUYER_ID,
        name: 'Head of Buying',
        follows: { categories, brands, regions },
      },
      {
        id: 'shoes-buyer',
        name: 'Anna Rossi (shoes & bags)',
        timeZone: 'Europe/Rome',
        follows: { categories: ['shoes', 'bags'] },
      },
      {
        id: 'rtw-buyer',
        name: 'Ben Ito (ready-to-wear)',
        timeZone: 'Asia/Tokyo',
        follows: { categories: ['dresses', 'bikinis', 'coats', 'tops', 'trousers', 'skirts'] },
      },
    ],
  };
}
