import { describe, expect, it } from 'vitest';
import {
  followers,
  followReasons,
  instantChannels,
  parseSubscriptions,
  SubscriptionsError,
} from '../../../services/notifier/subscriptions.ts';
import { alertFixture } from './alert-fixture.ts';

const buyers = {
  buyers: [
    {
      id: 'anna',
      name: 'Anna Rossi',
      email: 'anna@example.com',
      timeZone: 'Europe/Rome',
      follows: { categories: ['shoes'] },
      channels: { email: true, digestAt: '08:30' },
    },
    {
      id: 'ben',
      name: 'Ben Ito',
      follows: { brands: ['Maison Rouge'] },
      channels: { webhook: 'https://hooks.example.com/x' },
      minPriority: 'P2',
    },
    { id: 'chloe', name: 'Chloé', follows: { regions: ['FR'] } },
    { id: 'dev', name: 'Dev', follows: { categories: ['Bags'], regions: ['US'] } },
  ],
};

describe('subscriptions file', () => {
  it('accepts a valid file and fills defaults', () => {
    const subs = parseSubscriptions(buyers);
    expect(subs.buyers).toHaveLength(4);
    expect(subs.buyers[2]!.timeZone).toBe('UTC');
    expect(subs.buyers[2]!.channels.email).toBe(false);
    expect(subs.buyers[0]!.instantStatuses).toEqual(['new', 'escalated']);
  });

  it('names the field that is wrong', () => {
    const bad = (buyer: object) => () =>
      parseSubscriptions({ buyers: [{ id: 'x', name: 'X', follows: { regions: ['IT'] }, ...buyer }] });
    expect(bad({ timeZone: 'Mars/Olympus' })).toThrow(/buyers.0.timeZone: not an IANA time zone/);
    expect(bad({ channels: { digestAt: '8am' } })).toThrow(/channels.digestAt/);
    expect(bad({ channels: { email: true } })).toThrow(
      /buyers.0.email: e-mail and digest channels need an email address/,
    );
    expect(bad({ follows: {} })).toThrow(/follow at least one category, brand or region/);
    expect(bad({ follows: { regions: ['Italy'] } })).toThrow(/follows.regions.0/);
    expect(bad({ channels: { webhook: 'ftp://x.example' } })).toThrow(/channels.webhook/);
    expect(() => parseSubscriptions({ buyers: [buyers.buyers[0], buyers.buyers[0]] })).toThrow(
      SubscriptionsError,
    );
    expect(() => parseSubscriptions({ buyers: [buyers.buyers[0], buyers.buyers[0]] })).toThrow(/unique/);
  });
});

describe('who follows an alert', () => {
  const subs = parseSubscriptions(buyers);
  const alert = alertFixture();

  it('matches category and brand case-insensitively and regions among the top regions', () => {
    expect(followReasons(subs.buyers[0]!, alert)).toEqual(['category Shoes']);
    expect(followReasons(subs.buyers[1]!, alert)).toEqual(['brand Maison Rouge']);
    expect(followReasons(subs.buyers[2]!, alert)).toEqual(['region FR']);
    expect(followers(subs, alert).map((b) => b.id)).toEqual(['anna', 'ben', 'chloe']);
  });

  it('matches nobody when nothing lines up, and tolerates products without brand or category', () => {
    const other = alertFixture({
      product: { ...alert.product, category: null, brand: null },
      topRegions: [{ country: 'JP', signals: 3, share: 1 }],
    });
    expect(followers(subs, other)).toEqual([]);
  });

  it('sends instantly only at or above the buyer priority and for their statuses', () => {
    const [anna, ben, chloe] = subs.buyers;
    expect(instantChannels(anna!, alert)).toEqual(['email']);
    expect(instantChannels(ben!, alert)).toEqual(['webhook']);
    expect(instantChannels(ben!, alertFixture({ priority: 'P3' }))).toEqual([]);
    expect(instantChannels(anna!, alertFixture({ status: 'cooled' }))).toEqual([]);
    expect(instantChannels(chloe!, alert)).toEqual([]); // inbox only
  });
});
