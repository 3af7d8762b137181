/**
 * `GET /api/alerts` on the real notifier (real Kafka): a buyer's cards carry what the inbox card
 * shows, the photos load from the notifier itself, no buyer means every alert, and an unknown buyer
 * id is refused instead of being shown everyone's alerts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CardJson } from '../../../services/notifier/card-json.ts';
import type { NotifierConfig } from '../../../services/notifier/config.ts';
import { type Notifier, startNotifier } from '../../../services/notifier/service.ts';
import { parseSubscriptions } from '../../../services/notifier/subscriptions.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { alertFixture } from '../../unit/notifier/alert-fixture.ts';
import { notifierConfig, produceAlerts, storePhoto, waitFor } from './harness.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'notifier-api-alerts-test' });
const namespace = uniqueNamespace('notifier-api');
let config: NotifierConfig;
let notifier: Notifier;

const subscriptions = parseSubscriptions({
  buyers: [
    { id: 'anna', name: 'Anna Rossi', follows: { categories: ['Shoes'] } },
    { id: 'ben', name: 'Ben Ito', follows: { brands: ['Atelier Nord'] } },
    { id: 'cleo', name: 'Cleo Marsh', follows: { categories: ['Shoes'] } },
  ],
});

const api = (query = '') => fetch(new URL(`/api/alerts${query}`, notifier.inboxUrl));

beforeAll(async () => {
  config = await notifierConfig(kafka, kafkaBrokers, namespace);
  notifier = await startNotifier(config, { subscriptions });
});

afterAll(async () => {
  await notifier?.stop();
});

describe('GET /api/alerts', () => {
  let pumps: ReturnType<typeof alertFixture>;
  let bag: ReturnType<typeof alertFixture>;

  beforeAll(async () => {
    const uploaded = await storePhoto(config.BLOB_STORE_DIR, '#c4122f', 'look');
    pumps = alertFixture({
      photos: [
        { postId: 'post-1', imageUrl: uploaded, memberId: 'm-1', matchScore: 0.93 },
        { postId: 'post-2', imageUrl: 'https://cdn.example.com/p2.jpg', memberId: 'm-2' },
        // Neither https nor an uploaded photo: the page does not load it, nor does the API offer it.
        { postId: 'post-3', imageUrl: 'http://insecure.example.com/p3.jpg', memberId: 'm-3' },
      ],
    });
    bag = alertFixture({
      sku: 'BG-TAN-014',
      status: 'escalated',
      priority: 'P2',
      alertId: 'BG-TAN-014|2026-03-01T08:00:00.000Z|escalated|2',
      episodeId: 'BG-TAN-014|2026-03-01T08:00:00.000Z',
      product: {
        style: 'BG-TAN',
        colour: 'tan',
        name: 'Soft leather tote',
        category: 'Bags',
        brand: 'Atelier Nord',
        price: 1250,
      },
      stock: null,
      suggestedReorderQty: null,
      photos: [],
    });
    await produceAlerts(kafka, namespace, [pumps, bag]);
    await waitFor(async () => {
      const cards = (await (await api()).json()) as unknown[];
      return cards.length === 2 ? cards : undefined;
    });
  });

  it("returns a buyer's cards with what the inbox card shows", async () => {
    const response = await api('?buyer=anna');
    expect(response.status).toBe(200);
    const cards = (await response.json()) as CardJson[];
    expect(cards).toHaveLength(1);
    const card = cards[0]!;
    expect(card).toMatchObject({
      alertId: pumps.alertId,
      episodeId: pumps.episodeId,
      sku: 'SH-RED-001',
      state: 'open',
      status: 'new',
      priority: 'P1',
      raisedAt: pumps.raisedAt,
      title: 'Maison Rouge — Patent leather pumps',
      product: { name: 'Patent leather pumps', brand: 'Maison Rouge', category: 'Shoes', colour: 'red' },
      uplift: 4.3,
      members: 42,
      regions: [
        { country: 'IT', share: 0.5, signals: 30 },
        { country: 'FR', share: 0.3, signals: 18 },
        { country: 'GB', share: 0.2, signals: 12 },
      ],
      stock: { onHand: 37, onOrder: 0, leadTimeDays: 21, dailySales: 6.5, daysOfCover: 5.7 },
      daysOfCover: 5.7,
      daysOfCoverText: '5.7 days',
      suggestedQuantity: 180,
      decision: null,
      actions: [],
    });
    expect(card.series).toEqual(pumps.series);
    expect(card.photos.map((p) => p.postId)).toEqual(['post-1', 'post-2']);
    expect(card.photos[0]).toMatchObject({ memberId: 'm-1', matchScore: 0.93 });
    expect(card.photos[1]!.url).toBe('https://cdn.example.com/p2.jpg');
    // The uploaded photo is served by the notifier at the URL the card gives.
    const photo = await fetch(new URL(card.photos[0]!.url, notifier.inboxUrl));
    expect(photo.status).toBe(200);
    expect(photo.headers.get('content-type')).toBe('image/jpeg');
  });

  it('shows missing stock as the card does, and what a buyer did', async () => {
    const post = await fetch(new URL('/api/actions', notifier.inboxUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ alertId: bag.alertId, action: 'ordered', buyer: 'ben', quantity: 25 }),
    });
    expect(post.status).toBe(201);
    const cards = (await (await api('?buyer=ben')).json()) as CardJson[];
    expect(cards.map((c) => c.sku)).toEqual(['BG-TAN-014']);
    expect(cards[0]).toMatchObject({
      state: 'ordered',
      status: 'escalated',
      priority: 'P2',
      stock: null,
      daysOfCover: null,
      daysOfCoverText: 'no stock record',
      suggestedQuantity: null,
      photos: [],
      decision: { action: 'ordered', buyer: 'ben', quantity: 25, alertId: bag.alertId },
    });
    expect(cards[0]!.actions).toHaveLength(1);
  });

  it('returns every alert without a buyer, most urgent first', async () => {
    for (const query of ['', '?buyer=']) {
      const response = await api(query);
      expect(response.status).toBe(200);
      const cards = (await response.json()) as CardJson[];
      expect(cards.map((c) => c.sku)).toEqual(['SH-RED-001', 'BG-TAN-014']);
    }
  });

  it('refuses an unknown buyer id without listing the known ones', async () => {
    for (const query of ['?buyer=nobody', '?buyer=anna&buyer=ben']) {
      const response = await api(query);
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: string };
      expect(body.error).toMatch(/^unknown buyer id/);
      expect(body.error).toContain('NOTIFIER_SUBSCRIPTIONS_FILE');
      expect(body.error).not.toMatch(/anna|ben/);
    }
  });

  it("refuses an action on an alert the buyer does not follow, and keeps a buyer's snooze to that buyer", async () => {
    const post = (body: object) =>
      fetch(new URL('/api/actions', notifier.inboxUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const refused = await post({ alertId: pumps.alertId, action: 'acknowledge', buyer: 'ben' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/^ben does not follow this alert/);
    expect((await post({ alertId: pumps.alertId, action: 'snooze', buyer: 'anna' })).status).toBe(201);
    const state = async (buyer: string) =>
      ((await (await api(`?buyer=${buyer}`)).json()) as CardJson[]).find((c) => c.sku === pumps.sku)!.state;
    expect(await state('anna')).toBe('snoozed');
    expect(await state('cleo')).toBe('open');
  });

  it('answers an unknown buyer on the page as the API does, and serves the page with relative paths', async () => {
    const typo = await fetch(new URL('/?buyer=anan', notifier.inboxUrl));
    expect(typo.status).toBe(400);
    const html = await typo.text();
    expect(html).toContain('unknown buyer id');
    expect(html).not.toContain('SH-RED-001');
    const page = await (await fetch(new URL('/?buyer=anna', notifier.inboxUrl))).text();
    expect(page).toContain('SH-RED-001');
    expect(page).not.toMatch(/(href|src)="\//);
  });
});
