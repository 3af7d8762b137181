/**
 * The buyer inbox in real headless Chromium (Debian's, driven by playwright-core): the alert is
 * there with its photos, acknowledging it reaches the alert-actions topic and shows on the page.
 * The screenshot is kept in test/.artifacts/inbox.png.
 */
import { mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotifierConfig } from '../../../services/notifier/config.ts';
import { type Notifier, startNotifier } from '../../../services/notifier/service.ts';
import { parseSubscriptions } from '../../../services/notifier/subscriptions.ts';
import { AlertAction } from '../../../shared/contracts/events.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { decode } from '../../../shared/kafka/codec.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil } from '../../support/kafka.ts';
import { alertFixture } from '../../unit/notifier/alert-fixture.ts';
import { notifierConfig, produceAlerts, storePhoto, waitFor } from './harness.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'notifier-inbox-test' });
const namespace = uniqueNamespace('notifier-inbox');
const artifacts = new URL('../../.artifacts/', import.meta.url).pathname;
let config: NotifierConfig;
let notifier: Notifier;
let browser: Browser;

const subscriptions = parseSubscriptions({
  buyers: [
    { id: 'anna', name: 'Anna Rossi', follows: { categories: ['Shoes', 'Bags'], regions: ['IT'] } },
    { id: 'ben', name: 'Ben Ito', follows: { brands: ['Atelier Nord'] } },
  ],
});

beforeAll(async () => {
  config = await notifierConfig(kafka, kafkaBrokers, namespace);
  notifier = await startNotifier(config, { subscriptions });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
});

afterAll(async () => {
  await browser?.close();
  await notifier?.stop();
});

describe('buyer inbox', () => {
  it('shows the alert with its photos, records an acknowledgement in Kafka and on the page', async () => {
    const photos = await Promise.all(
      ['#c4122f', '#a50f26', '#d8344c'].map((hue, i) =>
        storePhoto(config.BLOB_STORE_DIR, hue, `look ${i + 1}`),
      ),
    );
    const pumps = alertFixture({
      photos: photos.map((imageUrl, i) => ({
        postId: `post-${i}`,
        imageUrl,
        memberId: `m-${i}`,
        matchScore: 0.9,
      })),
    });
    const bag = alertFixture({
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
      uplift: 2.6,
      series: [4, 5, 4, 6, 7, 9, 11, 12].map((weightedCount, i) => ({
        windowStart: new Date(Date.parse('2026-03-02T02:00:00Z') + i * 3_600_000).toISOString(),
        weightedCount,
        signals: weightedCount,
      })),
      photos: [
        {
          postId: 'post-bag',
          imageUrl: await storePhoto(config.BLOB_STORE_DIR, '#b07a4f', 'tote'),
          memberId: 'm-9',
        },
      ],
      stock: { onHand: 140, onOrder: 60, leadTimeDays: 35, dailySales: 5.1, daysOfCover: 27.5 },
      suggestedReorderQty: 40,
      distinctMembers: 23,
    });
    await produceAlerts(kafka, namespace, [pumps, bag]);
    const api = new URL('/api/alerts?buyer=anna', notifier.inboxUrl).href;
    await waitFor(async () => {
      const cards = (await (await fetch(api)).json()) as unknown[];
      return cards.length === 2 ? cards : undefined;
    });

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(new URL('/?buyer=anna', notifier.inboxUrl).href);
    const card = page.locator(`article[data-alert-id="${pumps.alertId}"]`);
    await expect(card.locator('h3').textContent()).resolves.toBe('Maison Rouge — Patent leather pumps');
    expect(await card.locator('.stats .quantity dd').textContent()).toBe('180');
    expect(await card.locator('.stats .stock dd').textContent()).toBe('37');
    expect(await card.locator('.stats .cover dd').textContent()).toBe('5.7 days');
    expect(await card.locator('.trend svg polyline').count()).toBe(1);
    // The photos really loaded from the notifier's blob route (a broken image has no natural width).
    // Functions run in the page; the test compiles without DOM types, so they are passed as source.
    await page.waitForFunction("[...document.querySelectorAll('img.photo')].every((img) => img.complete)");
    const widths = await card
      .locator('img.photo')
      .evaluateAll((imgs) => imgs.map((img) => (img as unknown as { naturalWidth: number }).naturalWidth));
    expect(widths).toEqual([480, 480, 480]);

    await card.getByRole('button', { name: 'Acknowledge' }).click();
    const acknowledged = page.locator(`article[data-alert-id="${pumps.alertId}"][data-state="acknowledged"]`);
    await acknowledged.waitFor({ timeout: 15_000 });
    expect(await acknowledged.locator('.decision').textContent()).toMatch(/^Acknowledged by Anna Rossi · /);
    expect(await page.locator('section[data-section="acknowledged"] .count').textContent()).toBe('1');

    const actions = await collectUntil(
      kafka,
      topicName('alert-actions', namespace),
      (r) => r.length >= 1,
      30_000,
    );
    expect(actions).toHaveLength(1);
    expect(actions[0]!.message.key!.toString()).toBe(pumps.alertId);
    const action = decode(AlertAction, actions[0]!.message.value);
    expect(action).toMatchObject({
      alertId: pumps.alertId,
      sku: pumps.sku,
      action: 'acknowledge',
      buyer: 'anna',
    });

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}inbox.png`, fullPage: true });
    await page.close();
  });

  it('rejects an action from an unknown buyer or for an unknown alert, and serves no blob by a bad digest', async () => {
    const post = (body: object) =>
      fetch(new URL('/api/actions', notifier.inboxUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect(
      (await post({ alertId: alertFixture().alertId, action: 'acknowledge', buyer: 'mallory' })).status,
    ).toBe(400);
    expect((await post({ alertId: 'nope', action: 'acknowledge', buyer: 'anna' })).status).toBe(404);
    expect((await post({ alertId: alertFixture().alertId, action: 'delete', buyer: 'anna' })).status).toBe(
      400,
    );
    expect((await fetch(new URL('/blobs/sha256/..%2F..%2Fetc%2Fpasswd', notifier.inboxUrl))).status).toBe(
      400,
    );
    expect((await fetch(new URL(`/blobs/sha256/${'0'.repeat(64)}`, notifier.inboxUrl))).status).toBe(404);
  });
});
