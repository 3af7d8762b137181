import cron from 'node-cron';
import { describe, expect, it } from 'vitest';
import { dailyCron } from '../../../services/notifier/deliverer.ts';
import { renderAlertEmail } from '../../../services/notifier/email.ts';
import { renderInboxPage } from '../../../services/notifier/inbox-page.ts';
import { InboxState } from '../../../services/notifier/inbox-state.ts';
import {
  daysOfCoverText,
  escapeHtml,
  headline,
  photoSrc,
  sparklineSvg,
} from '../../../services/notifier/present.ts';
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
      'P1 Escalated: Maison Rouge — Patent leather pumps (×4.3)',
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
    expect(email.text).toContain('suggested reorder 180');
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
