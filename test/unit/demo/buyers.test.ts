/** The demo's buyers follow the catalogue in use, so the catch-all inbox is never empty by accident. */
import { describe, expect, it } from 'vitest';
import { parseJsonFeed } from '../../../services/catalogue/feed.ts';
import { ALL_BUYER_ID, demoBuyers } from '../../../services/demo/buyers.ts';
import { followers, parseSubscriptions } from '../../../services/notifier/subscriptions.ts';
import { alertFixture } from '../notifier/alert-fixture.ts';

/** Luma-format entries as in ../shared/datasets/luma-catalogue/catalogue.json (no brands, some uncategorised). */
const lumaFeed = parseJsonFeed(
  JSON.stringify([
    {
      sku: 'MJ04-BLACK',
      style: 'MJ04',
      colour: 'black',
      name: 'Kenobi Trail Jacket',
      category: 'Men/Tops/Jackets',
      price: 47,
      images: [{ file: 'images/mj04-black_main.jpg', view: 'main' }],
    },
    {
      sku: 'WB01-BLACK',
      style: 'WB01',
      colour: 'black',
      name: 'Electra Bra Top',
      category: 'Women/Tops/Bras & Tanks',
      price: 39,
      images: [{ file: 'images/wb01-black_main.jpg', view: 'main' }],
    },
    {
      sku: 'MB01-BLUE',
      style: 'MB01',
      colour: 'blue',
      name: null,
      category: null,
      price: null,
      images: [{ file: 'images/mb01-blue-0.jpg', view: 'main' }],
    },
  ]),
  '/catalogue',
);

const alertFor = (sku: string, category: string | null, brand: string | null, countries: string[]) =>
  alertFixture({
    sku,
    product: { style: null, colour: null, name: sku, category, brand, price: null },
    topRegions: countries.map((country) => ({ country, signals: 10, share: 1 / countries.length })),
  });

const followerIds = (
  subscriptions: ReturnType<typeof parseSubscriptions>,
  alert: ReturnType<typeof alertFor>,
) => followers(subscriptions, alert).map((b) => b.id);

describe('demo buyers', () => {
  it('the catch-all buyer follows the categories of a luma catalogue', () => {
    expect(lumaFeed.problems).toEqual([]);
    const subscriptions = parseSubscriptions(demoBuyers(lumaFeed.products), 'demo buyers');
    const all = subscriptions.buyers.find((b) => b.id === ALL_BUYER_ID)!;
    expect(all.follows.categories).toEqual(['Men/Tops/Jackets', 'Women/Tops/Bras & Tanks']);
    // The alert the luma demo raised, with no region breakdown so only the category can match.
    expect(followerIds(subscriptions, alertFor('MJ04-BLACK', 'Men/Tops/Jackets', null, []))).toContain(
      ALL_BUYER_ID,
    );
  });

  it('reaches the catch-all buyer by region when a product has neither category nor brand', () => {
    const subscriptions = parseSubscriptions(demoBuyers(lumaFeed.products));
    expect(followerIds(subscriptions, alertFor('MB01-BLUE', null, null, ['GB', 'IT']))).toEqual([
      ALL_BUYER_ID,
    ]);
  });

  it('follows the synthetic catalogue, brands included, without duplicates', () => {
    const subscriptions = parseSubscriptions(
      demoBuyers([
        { category: 'shoes', brand: 'Maison Vermeil' },
        { category: 'Shoes ', brand: 'maison vermeil' },
        { category: 'hats', brand: 'Ostra' },
      ]),
    );
    const all = subscriptions.buyers.find((b) => b.id === ALL_BUYER_ID)!;
    expect(all.follows.categories).toEqual(['hats', 'shoes']);
    expect(all.follows.brands).toEqual(['Maison Vermeil', 'Ostra']);
    expect(followerIds(subscriptions, alertFor('SH-1', 'shoes', 'Maison Vermeil', ['US']))).toEqual([
      ALL_BUYER_ID,
      'shoes-buyer',
    ]);
    expect(followerIds(subscriptions, alertFor('HT-1', 'hats', 'Ostra', []))).toEqual([ALL_BUYER_ID]);
  });

  it('is a valid subscriptions file even for a catalogue with no categories or brands', () => {
    const subscriptions = parseSubscriptions(demoBuyers([{ category: null, brand: null }]));
    expect(subscriptions.buyers.map((b) => b.id)).toEqual([ALL_BUYER_ID, 'shoes-buyer', 'rtw-buyer']);
  });
});
