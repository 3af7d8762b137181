import cron from 'node-cron';
import { describe, expect, it } from 'vitest';
import { dailyCron } from '../../../services/notifier/deliverer.ts';
import { renderAlertEmail } from '../../../services/notifier/email.ts';
import { INBOX_JS, renderInboxPage } from '../../../services/notifier/inbox-page.ts';
import { InboxState } from '../../../services/notifier/inbox-state.ts';
import {
  adviceText,
  cardAnchor,
  changeText,
  daysOfCoverText,
  escapeHtml,
  factRows,
  headline,
  inboxLink,
  orderByText,
  orderValueText,
  photoSrc,
  raisedText,
  sparklineSvg,
} from '../../../services/notifier/present.ts';
import { slackMessage } from '../../../services/notifier/webhook.ts';
import { alertFixture } from './alert-fixture.ts';

const digest = 'ab'.repeat(32);
const hostile = '<img src=x onerror=alert(1)>"\'&';

describe('presentation helpers', () => {
  it('escapes everything HTML cares about', () => {
    expect(escapeHtml(hostile)).toBe('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    expect(escapeHtml(null)).toBe('');
  });

  it('loads photos from https or the blob route only', () => {
    expect(photoSrc('https://cdn.example.com/a.jpg')).toBe('https://cdn.example.com/a.jpg');
    expect(photoSrc(`blob:sha256:${digest}`)).toBe(`/blobs/sha256/${digest}`);
    expect(photoSrc(`blob:sha256:${digest}`, 'https://inbox.example.com')).toBe(
      `https://inbox.example.com/blobs/sha256/${digest}`,
    );
    expect(photoSrc(`blob:sha256:${digest}`, 'https://inbox.example.com/')).toBe(
      `https://inbox.example.com/blobs/sha256/${digest}`,
    );
    expect(photoSrc(`blob:sha256:${digest}`, 'https://corp.example/trend-radar/?buyer=anna')).toBe(
      `https://corp.example/trend-radar/blobs/sha256/${digest}`,
    );
    expect(photoSrc('http://cdn.example.com/a.jpg')).toBeUndefined();
    expect(photoSrc('javascript:alert(1)')).toBeUndefined();
    expect(photoSrc('blob:sha256:../../etc/passwd')).toBeUndefined();
  });

  it('draws one point per window, scaled into the box, and survives odd series', () => {
    const svg = sparklineSvg([0, 5, 10], { width: 108, height: 58 });
    const points = /<polyline points="([^"]+)"/.exec(svg)![1]!.split(' ');
    expect(points).toEqual(['4.0,54.0', '54.0,29.0', '104.0,4.0']);
    expect(sparklineSvg([7])).toContain('<polyline');
    expect(sparklineSvg([])).not.toContain('<polyline');
    expect(sparklineSvg([1, Number.NaN, 3])).not.toContain('NaN');
  });

  it('words stock cover and headlines for buyers', () => {
    expect(daysOfCoverText(alertFixture())).toBe('5.7 days');
    expect(daysOfCoverText(alertFixture({ stock: null }))).toBe('no stock record');
    expect(headline(alertFixture({ status: 'escalated' }))).toBe(
      'P1 Escalated: Maison Rouge — Patent leather pumps (×4.3 usual interest)',
    );
  });

  it('turns a local digest time into a daily cron expression that fires at that time in the buyer zone', async () => {
    expect(dailyCron('08:30')).toBe('30 8 * * *');
    expect(dailyCron('23:05')).toBe('5 23 * * *');
    const task = cron.createTask(dailyCron('08:30'), () => undefined, { timezone: 'Asia/Tokyo' });
    const [next] = task.getNextRuns(1);
    // Tokyo is UTC+9 all year: 08:30 there is 23:30 UTC the day before.
    expect(task.match(new Date('2026-11-24T23:30:00Z'))).toBe(true);
    expect(task.match(new Date('2026-11-25T08:30:00Z'))).toBe(false);
    await task.destroy();
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Asia/Tokyo',
      hour: '2-digit',
      minute: '2-digit',
    });
    expect(local.format(next)).toBe('08:30');
  });
});

describe('alert e-mail', () => {
  const alert = alertFixture({
    product: { ...alertFixture().product, name: hostile },
    photos: [
      { postId: 'p1', imageUrl: 'https://cdn.example.com/a.jpg', memberId: 'm1' },
      { postId: 'p2', imageUrl: `blob:sha256:${digest}`, memberId: 'm2' },
      { postId: 'p3', imageUrl: `blob:sha256:${'cd'.repeat(32)}`, memberId: 'm3' },
    ],
  });

  it('inlines the sparkline and stored photos by content id, links https photos, and escapes product text', () => {
    const email = renderAlertEmail(
      [{ alert, reasons: ['category Shoes'] }],
      { name: 'Anna' },
      'alert',
      'https://inbox.example.com/',
      undefined,
      new Set([digest]),
    );
    expect(email.html).toContain('src="https://cdn.example.com/a.jpg"');
    const blob = email.inline.find((i) => i.kind === 'blob')!;
    expect(email.html).toContain(`src="cid:${blob.cid}"`);
    const spark = email.inline.find((i) => i.kind === 'sparkline')!;
    expect(email.html).toContain(`src="cid:${spark.cid}"`);
    expect(spark.kind === 'sparkline' && spark.values).toEqual(alert.series.map((p) => p.weightedCount));
    // The photo missing from the blob store is left out rather than shown broken.
    expect(email.inline.filter((i) => i.kind === 'blob')).toHaveLength(1);
    expect(email.html).not.toContain('<img src=x');
    expect(email.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(email.html).toMatch(/Suggested reorder quantity<\/td><td><strong>180</);
    expect(email.html).toMatch(/Stock on hand<\/td><td><strong>37</);
    expect(email.text).toContain('suggested reorder quantity 180');
  });

  it('lists several alerts in a digest', () => {
    const email = renderAlertEmail(
      [
        { alert, reasons: ['x'] },
        { alert: alertFixture({ sku: 'BAG-1' }), reasons: ['y'] },
      ],
      { name: 'Anna' },
      'digest',
      undefined,
      '2026-03-03',
    );
    expect(email.subject).toBe('Your Trend Radar digest for 2026-03-03: 2 alerts');
    expect(email.inline.filter((i) => i.kind === 'sparkline')).toHaveLength(2);
  });
});

describe('inbox page', () => {
  it('escapes product text and asks who is acting before enabling actions', () => {
    const state = new InboxState();
    state.applyAlert(alertFixture({ product: { ...alertFixture().product, brand: hostile } }));
    const now = new Date('2026-03-02T11:00:00Z');
    const anonymous = renderInboxPage(state.cards(now), { buyers: [{ id: 'anna', name: 'Anna' }], now });
    expect(anonymous).not.toContain('<img src=x');
    expect(anonymous).toContain('Pick your name above');
    expect(anonymous).toMatch(/data-action="acknowledge" disabled/);
    const anna = renderInboxPage(state.cards(now), {
      buyers: [{ id: 'anna', name: 'Anna' }],
      buyer: 'anna',
      now,
    });
    expect(anna).toMatch(/data-action="acknowledge">/);
    expect(anna).toContain('<svg');
    expect(anna).toContain('src="https://cdn.example.com/photos/red-pumps.jpg"');
  });
});

describe('what changed in an episode (audit: cooled and escalated messages)', () => {
  // The audit's episode: new P1 ×2.5 / 1662 / 8.9 days, escalated P1 ×5.4 / 4016 / 4.8 days, cooled.
  const stock = { onHand: 1170, onOrder: 0, leadTimeDays: 21, dailySales: 75.63 };
  const first = alertFixture({
    alertId: 'SH|2026-11-22T11:35:00.000Z|new|0',
    episodeId: 'SH|2026-11-22T11:35:00.000Z',
    uplift: 2.457,
    suggestedReorderQty: 1662,
    stock: { ...stock, daysOfCover: 8.9 },
    windowEnd: '2026-11-22T11:35:00.000Z',
    raisedAt: '2026-11-22T11:45:00.000Z',
  });
  const escalated = alertFixture({
    ...first,
    alertId: 'SH|2026-11-22T11:35:00.000Z|escalated|1',
    status: 'escalated',
    uplift: 5.382,
    suggestedReorderQty: 4016,
    stock: { ...stock, daysOfCover: 4.8 },
    windowEnd: '2026-11-22T12:15:00.000Z',
    raisedAt: '2026-11-22T12:25:00.000Z',
  });
  const cooled = alertFixture({
    ...escalated,
    alertId: 'SH|2026-11-22T11:35:00.000Z|cooled|1',
    status: 'cooled',
    priority: 'P2',
    suggestedReorderQty: 484,
    stock: { ...stock, daysOfCover: 15.5 },
    windowEnd: '2026-11-23T08:30:00.000Z',
    raisedAt: '2026-11-23T08:40:00.000Z',
  });
  const history = [first, escalated, cooled];
  const rome = { history, timeZone: 'Europe/Rome' };

  it('tells an escalation with the figures before and now', () => {
    expect(changeText(escalated, rome)).toBe(
      'Was P1 ×2.5, 1,662 units suggested, 8.9 days of cover (22 Nov, 12:45 CET); now P1 ×5.4, 4,016 units suggested, 4.8 days of cover.',
    );
  });

  it('tells a cooled alert that the rise is over, since when, and that no order is suggested for it', () => {
    expect(headline(cooled)).toBe(
      'Rise over: Maison Rouge — Patent leather pumps — no new order for the trend',
    );
    expect(changeText(cooled, rome)).toBe(
      'The rise is over: rising from 22 Nov, 12:35 CET (last alert 22 Nov, 13:25 CET), no longer rising by 23 Nov, 09:30 CET. It peaked at P1 ×5.4 usual interest, suggesting up to 4,016 units for the trend.',
    );
    // Without the episode's history the start still comes from the episode id.
    expect(changeText(cooled, { timeZone: 'UTC' })).toMatch(
      /^The rise is over: rising from 22 Nov, 11:35 UTC,/,
    );
    expect(adviceText(cooled)).toBe(
      'No new order is suggested for the trend. For usual demand (without the trend) the stock calls for 484 units. Nothing to act on, unless you want to cancel or reduce an order placed for it.',
    );
    const rows = Object.fromEntries(factRows(cooled, rome));
    expect(rows['Reorder for usual demand']).toBe('484');
    expect(rows['Suggested reorder quantity']).toBeUndefined();
    expect(rows['Order by']).toBeUndefined();
  });

  it('says all that in the e-mail and the webhook, without the call to order', () => {
    const email = renderAlertEmail(
      [{ alert: cooled, reasons: ['category Shoes'], history }],
      { name: 'Anna', id: 'anna', timeZone: 'Europe/Rome' },
      'alert',
      'https://inbox.example.com/',
    );
    expect(email.subject).toContain('Rise over');
    expect(email.text).toContain('The rise is over: rising from 22 Nov, 12:35 CET');
    expect(email.html).not.toContain('mark as ordered');
    expect(email.html).not.toMatch(/Suggested reorder/);
    const slack = JSON.stringify(
      slackMessage(cooled, ['category Shoes'], 'https://inbox.example.com/', { history, buyer: 'anna' }),
    );
    expect(slack).toContain('The rise is over');
    expect(slack).toContain('No new order is suggested for the trend');
    const up = JSON.stringify(slackMessage(escalated, ['category Shoes'], undefined, { history }));
    expect(up).toContain('Was P1 ×2.5, 1,662 units suggested, 8.9 days of cover');
  });

  it('offers no order on a cooled inbox card and says the rise is over', () => {
    const state = new InboxState();
    for (const alert of history) state.applyAlert(alert);
    const page = renderInboxPage(state.cards(new Date('2026-11-23T09:00:00Z')), {
      buyers: [{ id: 'anna', name: 'Anna' }],
      buyer: 'anna',
      timeZone: 'Europe/Rome',
      now: new Date('2026-11-23T09:00:00Z'),
    });
    expect(page).toContain('The rise is over: rising from 22 Nov, 12:35 CET');
    expect(page).not.toContain('data-action="ordered"');
    expect(page).not.toContain('value="484"');
  });
});

describe('priority and numbers (audit: lead time, order by, labelled uplift, order value)', () => {
  it('gives the lead time, the date to order by, and the order value', () => {
    // 5.7 days of cover, 21 days of lead time: too late already.
    const rows = Object.fromEntries(factRows(alertFixture()));
    expect(rows['Lead time']).toBe('21 days');
    expect(rows['Order by']).toBe(
      'now: 5.7 days of cover ends before a new order arrives (lead time 21 days)',
    );
    expect(rows['Order value']).toBe('124,200 (180 × list price 690)');
    expect(rows.Uplift).toBe('×4.3 usual interest');
    // 30 days of cover, 21 of lead time: order within 9 days of the alert.
    const later = alertFixture({
      stock: { onHand: 300, onOrder: 0, leadTimeDays: 21, dailySales: 10, daysOfCover: 30 },
    });
    expect(orderByText(later, 'Europe/Rome')).toBe('Wed 11 Mar (30 days of cover, lead time 21 days)');
    expect(orderValueText(alertFixture(), 'EUR')).toBe('€124,200 (180 × €690)');
    expect(
      orderValueText(alertFixture({ product: { ...alertFixture().product, price: null } })),
    ).toBeUndefined();
  });
});

describe('time (audit: undated messages, UTC in the inbox)', () => {
  it("dates messages in the buyer's zone and marks an alert delivered hours late", () => {
    const alert = alertFixture(); // raised 2026-03-02T10:00:05Z
    expect(raisedText(alert, { timeZone: 'Asia/Tokyo' })).toBe('raised 2 Mar, 19:00 GMT+9');
    expect(raisedText(alert, { now: new Date('2026-03-02T11:00:00Z') })).toBe('raised 2 Mar, 10:00 UTC');
    expect(raisedText(alert, { now: new Date('2026-03-05T10:00:00Z') })).toBe(
      'raised 2 Mar, 10:00 UTC — delivered late, 3 days ago: check the inbox for its current state',
    );
    const slack = JSON.stringify(
      slackMessage(alert, ['category Shoes'], undefined, { now: new Date('2026-03-05T10:00:00Z') }),
    );
    expect(slack).toContain('delivered late, 3 days ago');
    const email = renderAlertEmail(
      [{ alert, reasons: ['x'] }],
      { name: 'A', timeZone: 'Europe/Rome' },
      'alert',
    );
    expect(email.text).toContain('raised 2 Mar, 11:00 CET');
  });

  it("writes the inbox's times in the buyer's zone", () => {
    const state = new InboxState();
    state.applyAlert(alertFixture());
    const now = new Date('2026-03-02T11:00:00Z');
    const page = renderInboxPage(state.cards(now), {
      buyers: [{ id: 'anna', name: 'Anna' }],
      buyer: 'anna',
      timeZone: 'Europe/Rome',
      now,
    });
    expect(page).toContain('raised 2 Mar, 11:00 CET');
    expect(page).not.toContain(' UTC');
  });
});

describe('inbox links and paths (audit: behind a path-prefixed proxy)', () => {
  it("links to the buyer's own view at the card, and the page uses relative paths only", () => {
    const alert = alertFixture({
      photos: [{ postId: 'p', imageUrl: `blob:sha256:${digest}`, memberId: 'm' }],
    });
    const link = inboxLink('https://corp.example/trend-radar/', 'anna', alert.episodeId);
    expect(link).toBe(`https://corp.example/trend-radar/?buyer=anna#${cardAnchor(alert.episodeId)}`);
    const state = new InboxState();
    state.applyAlert(alert);
    const page = renderInboxPage(state.cards(new Date()), { buyers: [], now: new Date() });
    expect(page).toContain(`id="${cardAnchor(alert.episodeId)}"`);
    expect(page).not.toMatch(/(href|src)="\//);
    expect(page).toContain(`src="blobs/sha256/${digest}"`);
    expect(page).toContain('href="inbox.css"');
    expect(INBOX_JS).toContain("fetch('api/actions'");
    const email = renderAlertEmail(
      [{ alert, reasons: ['x'] }],
      { name: 'A', id: 'anna' },
      'alert',
      'https://corp.example/trend-radar/',
    );
    expect(email.html).toContain(
      `href="https://corp.example/trend-radar/?buyer=anna#${cardAnchor(alert.episodeId)}"`,
    );
  });
});
