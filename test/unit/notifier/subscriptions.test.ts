import { describe, expect, it } from 'vitest';
import { regionsText } from '../../../services/notifier/present.ts';
import {
  followers,
  followReasons,
  instantChannels,
  parseSubscriptions,
  SubscriptionsError,
  unknownFollows,
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
    expect(followReasons(subs.buyers[2]!, alert)).toEqual(['region FR (30%)']);
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

describe('subscription mistakes (audit: silently dropped keys, "UK")', () => {
  const one = (buyer: object) => () =>
    parseSubscriptions({ buyers: [{ id: 'x', name: 'X', follows: { regions: ['IT'] }, ...buyer }] });

  it('refuses unknown keys, naming each and the key meant', () => {
    expect(one({ chanels: { email: true } })).toThrow(
      /buyers\.0\.chanels: unknown key \(did you mean "channels"\?\)/,
    );
    expect(one({ min_priority: 'P1' })).toThrow(
      /buyers\.0\.min_priority: unknown key \(did you mean "minPriority"\?\)/,
    );
    expect(one({ channels: { webHook: 'https://hooks.example.com/x' } })).toThrow(
      /buyers\.0\.channels\.webHook: unknown key \(did you mean "webhook"\?\)/,
    );
    expect(one({ channels: { digest: '08:30' } })).toThrow(
      /channels\.digest: unknown key \(did you mean "digestAt"\?\)/,
    );
    expect(one({ follows: { region: ['IT'] } })).toThrow(
      /follows\.region: unknown key \(did you mean "regions"\?\)/,
    );
    expect(() => parseSubscriptions({ buyer: [] })).toThrow(/buyer: unknown key \(did you mean "buyers"\?\)/);
  });

  it('refuses "UK", lowercase and unassigned country codes, suggesting the right one', () => {
    expect(one({ follows: { regions: ['UK'] } })).toThrow(
      /follows\.regions\.0: "UK" is not an ISO 3166-1 country code: use "GB"/,
    );
    expect(one({ follows: { regions: ['it'] } })).toThrow(/use "IT"/);
    expect(one({ follows: { regions: ['XX'] } })).toThrow(/"XX" is not an ISO 3166-1 country code/);
    expect(one({ follows: { regions: ['GB', 'JP'] } })()).toBeTruthy();
  });

  it('names followed categories and brands the catalogue lacks, with the likely one', () => {
    const subs = parseSubscriptions({
      buyers: [
        { id: 'x', name: 'X', follows: { categories: ['Shose', 'bags'], brands: ['Maison Vermiel'] } },
      ],
    });
    expect(unknownFollows(subs, { categories: ['shoes', 'Bags'], brands: ['Maison Vermeil'] })).toEqual([
      'x: category "Shose" is not in the catalogue (did you mean "shoes"?)',
      'x: brand "Maison Vermiel" is not in the catalogue (did you mean "Maison Vermeil"?)',
    ]);
  });
});

describe('region routing (audit: a 5.6 % region routes, and the reason points at it)', () => {
  const alert = alertFixture({
    topRegions: [
      { country: 'GB', signals: 50, share: 0.5 },
      { country: 'IT', signals: 20, share: 0.2 },
      { country: 'US', signals: 12, share: 0.12 },
      { country: 'FR', signals: 8, share: 0.08 },
      { country: 'JP', signals: 6, share: 0.056 },
    ],
  });

  it('shows the followed region with its share, and every top region it was routed on', () => {
    const [jp] = parseSubscriptions({
      buyers: [{ id: 'j', name: 'J', follows: { regions: ['JP'] } }],
    }).buyers;
    expect(followReasons(jp!, alert)).toEqual(['region JP (6%)']);
    expect(regionsText(alert)).toContain('JP 6%');
  });

  it('leaves out regions below the buyer minimum share', () => {
    const [jp] = parseSubscriptions({
      buyers: [{ id: 'j', name: 'J', follows: { regions: ['JP', 'IT'], minRegionShare: 0.1 } }],
    }).buyers;
    expect(followReasons(jp!, alert)).toEqual(['region IT (20%)']);
    expect(
      followReasons(jp!, { ...alert, topRegions: alert.topRegions.filter((r) => r.country !== 'IT') }),
    ).toEqual([]);
  });
});
