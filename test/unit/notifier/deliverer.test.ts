/**
 * Each (buyer, channel) pair of an alert is delivered on its own: a broken webhook (4xx) is given
 * up on without holding up anyone, a transient failure asks for a retry after everyone else was
 * served, and the retry sends only what is missing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Deliverer, DeliveryIncompleteError } from '../../../services/notifier/deliverer.ts';
import type { Mailer, MailThread, RenderedEmail } from '../../../services/notifier/email.ts';
import { type Card, InboxState } from '../../../services/notifier/inbox-state.ts';
import type { DeliveryLedger } from '../../../services/notifier/ledger.ts';
import { parseSubscriptions } from '../../../services/notifier/subscriptions.ts';
import { WebhookRejectedError } from '../../../services/notifier/webhook.ts';
import type { BlobStore } from '../../../shared/blobstore/blob-store.ts';
import { PermanentError } from '../../../shared/kafka/codec.ts';
import { outcomeOf } from '../../../shared/kafka/consumer-runner.ts';
import type { Logger } from '../../../shared/observability/logger.ts';
import { createRegistry } from '../../../shared/observability/metrics.ts';
import { alertFixture } from './alert-fixture.ts';

/** Per path: the statuses to answer, in order (the last one repeats); optional delay. */
const script = new Map<string, { statuses: number[]; delayMs?: number }>();
const hits = new Map<string, number>();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    const path = req.url ?? '/';
    const n = hits.get(path) ?? 0;
    hits.set(path, n + 1);
    const plan = script.get(path) ?? { statuses: [200] };
    const status = plan.statuses[Math.min(n, plan.statuses.length - 1)]!;
    setTimeout(() => {
      res.statusCode = status;
      res.end(status === 200 ? 'ok' : 'no');
    }, plan.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  script.clear();
  hits.clear();
});

function setup(buyers: unknown[]) {
  const delivered = new Set<string>();
  const ledger = {
    has: (b: string, c: string, a: string) => delivered.has(`${b}|${c}|${a}`),
    record: async (b: string, c: string, a: string) => {
      delivered.add(`${b}|${c}|${a}`);
    },
  } as unknown as DeliveryLedger;
  const mails: string[] = [];
  const messageIds: string[] = [];
  const sentMails: Array<{ rendered: RenderedEmail; id: string; thread?: MailThread }> = [];
  const mailer = {
    send: async (to: string, rendered: RenderedEmail, id: string, thread?: MailThread) => {
      mails.push(to);
      messageIds.push(id);
      sentMails.push({ rendered, id, ...(thread ? { thread } : {}) });
    },
    close: async () => {},
  } as unknown as Mailer;
  const blobs = { get: async () => Buffer.alloc(0), has: async () => false } as unknown as BlobStore;
  const logs: Array<{ level: string; message: string }> = [];
  const log = (level: string) => (_fields: unknown, message: string) => logs.push({ level, message });
  const logger = { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') };
  const registry = createRegistry('notifier-test');
  const deliverer = new Deliverer({
    subscriptions: parseSubscriptions({ buyers }),
    ledger,
    blobs,
    mailer,
    webhook: { secret: 'a-long-shared-secret-for-tests', attempts: 2, backoffMs: 1, timeoutMs: 5_000 },
    logger: logger as unknown as Logger,
    registry,
  });
  return { deliverer, delivered, mails, messageIds, sentMails, logs, registry };
}

const hookBuyer = (id: string, path: string) => ({
  id,
  name: id,
  follows: { categories: ['Shoes'] },
  channels: { webhook: `${base}${path}` },
});
const mailBuyer = (id: string) => ({
  id,
  name: id,
  email: `${id}@example.com`,
  follows: { categories: ['Shoes'] },
  channels: { email: true },
});

async function failed(registry: ReturnType<typeof createRegistry>) {
  const metric = await registry.getSingleMetric('trendradar_notifications_failed_total')?.get();
  return Object.fromEntries(
    (metric?.values ?? []).map((v) => [`${v.labels.channel}/${v.labels.kind}`, v.value]),
  );
}

describe('Deliverer.deliver', () => {
  it("a 404 from buyer A's webhook is a rejection: B still gets the alert, nothing is retried", async () => {
    script.set('/a', { statuses: [404] });
    const { deliverer, delivered, mails, logs, registry } = setup([hookBuyer('a', '/a'), mailBuyer('b')]);
    const alert = alertFixture();

    const outcome = await outcomeOf(async () => {
      const report = await deliverer.deliver(alert);
      expect(report.delivered).toEqual([{ buyer: 'b', channel: 'email' }]);
      expect(report.rejected).toMatchObject([{ buyer: 'a', channel: 'webhook', error: /rejected.*404/ }]);
      return [];
    });
    expect(outcome.kind).toBe('done'); // the consumer commits the alert: no retry, no dead letter
    expect(mails).toEqual(['b@example.com']);
    expect(hits.get('/a')).toBe(1); // the 4xx is not retried by the webhook client either
    expect(delivered.has(`a|webhook|${alert.alertId}`)).toBe(false); // the ledger holds deliveries only
    expect(logs.some((l) => l.level === 'error' && /rejected/.test(l.message))).toBe(true);
    expect(await failed(registry)).toEqual({ 'webhook/rejected': 1 });

    // Read again (a replay, another alert's retry): A is not posted again, B not mailed again.
    const again = await deliverer.deliver(alert);
    expect(again.skipped).toEqual([
      { buyer: 'a', channel: 'webhook' },
      { buyer: 'b', channel: 'email' },
    ]);
    expect(hits.get('/a')).toBe(1);
    expect(mails).toEqual(['b@example.com']);
  });

  it('WebhookRejectedError is a PermanentError', () => {
    expect(new WebhookRejectedError('x')).toBeInstanceOf(PermanentError);
  });

  it('a transient failure of A: B is served once, the alert is retried, and the retry sends only to A', async () => {
    // Two attempts per delivery: 503, 503 on the first delivery; 200 on the retry.
    script.set('/a', { statuses: [503, 503, 200] });
    const { deliverer, delivered, mails, registry } = setup([hookBuyer('a', '/a'), mailBuyer('b')]);
    const alert = alertFixture();

    const first = await outcomeOf(async () => {
      await deliverer.deliver(alert);
      return [];
    });
    expect(first.kind).toBe('retry');
    const error = (first as { error: unknown }).error as DeliveryIncompleteError;
    expect(error).toBeInstanceOf(DeliveryIncompleteError);
    expect(error).not.toBeInstanceOf(PermanentError);
    expect(error.failures).toMatchObject([{ buyer: 'a', channel: 'webhook' }]);
    expect(error.report.delivered).toEqual([{ buyer: 'b', channel: 'email' }]);
    expect(mails).toEqual(['b@example.com']);
    expect(hits.get('/a')).toBe(2);
    expect(await failed(registry)).toEqual({ 'webhook/transient': 1 });

    const retry = await deliverer.deliver(alert);
    expect(retry.delivered).toEqual([{ buyer: 'a', channel: 'webhook' }]);
    expect(retry.skipped).toEqual([{ buyer: 'b', channel: 'email' }]);
    expect(mails).toEqual(['b@example.com']); // no double delivery to B
    expect(hits.get('/a')).toBe(3);
    expect(delivered).toEqual(new Set([`a|webhook|${alert.alertId}`, `b|email|${alert.alertId}`]));
  });

  it('buyers after a failing one are served in the same attempt, whatever the order', async () => {
    script.set('/a', { statuses: [500] });
    script.set('/c', { statuses: [200] });
    const { deliverer, mails } = setup([hookBuyer('a', '/a'), mailBuyer('b'), hookBuyer('c', '/c')]);
    await expect(deliverer.deliver(alertFixture())).rejects.toThrow(DeliveryIncompleteError);
    expect(mails).toEqual(['b@example.com']);
    expect(hits.get('/c')).toBe(1);
  });

  it('heartbeats while a slow receiver answers', async () => {
    script.set('/slow', { statuses: [200], delayMs: 3_400 });
    const { deliverer } = setup([hookBuyer('a', '/slow')]);
    let beats = 0;
    const report = await deliverer.deliver(alertFixture(), {
      heartbeat: async () => {
        beats++;
      },
    });
    expect(report.delivered).toHaveLength(1);
    expect(beats).toBeGreaterThanOrEqual(1);
  });
});

describe('Deliverer.sendDigest', () => {
  const card = (sku: string, raisedAt: string) =>
    ({ alert: alertFixture({ sku, raisedAt }), state: 'open', actions: [] }) as unknown as Card;
  const morning = new Date('2026-03-02T07:30:00Z');
  const evening = new Date('2026-03-02T16:00:00Z');
  const a = card('A', '2026-03-02T06:00:00Z');
  const b = card('B', '2026-03-02T12:00:00Z');
  const c = card('C', '2026-03-02T06:30:00Z');

  it('gives a second digest the same day, listing other alerts, its own Message-ID', async () => {
    const { deliverer, messageIds } = setup([mailBuyer('anna')]);
    expect(await deliverer.sendDigest('anna', [a], morning)).toBe(1);
    expect(await deliverer.sendDigest('anna', [a, b], evening)).toBe(1); // B only: A was in a digest
    expect(messageIds).toHaveLength(2);
    // One shared id would let a mail system drop the second as a duplicate, B with it.
    expect(messageIds[1]).not.toBe(messageIds[0]);
  });

  it('keeps the Message-ID of a digest re-sent after a crash, whatever the order of its cards', async () => {
    const first = setup([mailBuyer('anna')]);
    await first.deliverer.sendDigest('anna', [a, c], morning);
    // A restart whose ledger lacks the digest (the crash came before the write) sends it again.
    const again = setup([mailBuyer('anna')]);
    await again.deliverer.sendDigest('anna', [c, a], new Date('2026-03-02T07:45:00Z'));
    expect(again.messageIds).toEqual(first.messageIds);
  });
});

describe('episodes told as a whole (audit: cooled/escalated messages, digest)', () => {
  const episode = (sku: string, start: string) => {
    const episodeId = `${sku}|${start}`;
    const at = (minutes: number) => new Date(Date.parse(start) + minutes * 60_000).toISOString();
    return {
      new: alertFixture({
        sku,
        episodeId,
        alertId: `${episodeId}|new|0`,
        priority: 'P2',
        uplift: 2.5,
        suggestedReorderQty: 1662,
        windowEnd: start,
        raisedAt: at(10),
      }),
      escalated: alertFixture({
        sku,
        episodeId,
        alertId: `${episodeId}|escalated|1`,
        status: 'escalated',
        priority: 'P1',
        uplift: 5.4,
        suggestedReorderQty: 4016,
        raisedAt: at(50),
      }),
      cooled: alertFixture({
        sku,
        episodeId,
        alertId: `${episodeId}|cooled|1`,
        status: 'cooled',
        priority: 'P2',
        uplift: 5.4,
        suggestedReorderQty: 484,
        raisedAt: at(1300),
      }),
    };
  };

  it("threads an escalation's e-mail under the episode's first one and says what changed", async () => {
    const { deliverer, sentMails } = setup([mailBuyer('anna')]);
    const a = episode('SH', '2026-03-02T09:00:00.000Z');
    await deliverer.deliver(a.new, { episode: [a.new] });
    await deliverer.deliver(a.escalated, { episode: [a.new, a.escalated] });
    expect(sentMails).toHaveLength(2);
    expect(sentMails[0]!.thread).toBeUndefined();
    expect(sentMails[1]!.thread).toEqual({ inReplyTo: sentMails[0]!.id, references: [sentMails[0]!.id] });
    expect(sentMails[1]!.rendered.text).toContain('Was P2 ×2.5, 1,662 units suggested');
    expect(sentMails[1]!.rendered.text).toContain('now P1 ×5.4, 4,016 units suggested');
  });

  it('lists per episode the state that matters: live ones first, ended ones marked, none the buyer acted on', async () => {
    const { deliverer, sentMails } = setup([mailBuyer('anna')]);
    const live = episode('LIVE', '2026-03-02T09:00:00.000Z');
    const over = episode('OVER', '2026-03-01T09:00:00.000Z');
    const ordered = episode('ORDERED', '2026-03-02T08:00:00.000Z');
    const snoozed = episode('SNOOZED', '2026-03-02T08:30:00.000Z');
    const state = new InboxState();
    for (const e of [live, over, ordered, snoozed]) {
      state.applyAlert(e.new);
      state.applyAlert(e.escalated);
    }
    state.applyAlert(over.cooled);
    const act = (alertId: string, action: 'ordered' | 'snooze', extra: object) =>
      state.applyAction({
        actionId: `${alertId}-${action}`,
        alertId,
        sku: 'x',
        action,
        buyer: 'anna',
        at: '2026-03-02T10:00:00Z',
        ...extra,
      });
    act(ordered.escalated.alertId, 'ordered', { quantity: 4016 });
    act(snoozed.escalated.alertId, 'snooze', { snoozeUntil: '2026-03-04T10:00:00Z' });
    // Another buyer's snooze does not hide the live episode from anna.
    state.applyAction({
      actionId: 'ben-snooze',
      alertId: live.escalated.alertId,
      sku: 'LIVE',
      action: 'snooze',
      buyer: 'ben',
      snoozeUntil: '2026-03-04T10:00:00Z',
      at: '2026-03-02T10:00:00Z',
    });
    const now = new Date('2026-03-03T07:30:00Z');
    expect(
      await deliverer.sendDigest(
        'anna',
        state.cards(now, () => true, 'anna'),
        now,
      ),
    ).toBe(2);
    const { rendered } = sentMails[0]!;
    expect(rendered.subject).toBe('Your Trend Radar digest for 2026-03-03: 2 alerts (1 rising, 1 over)');
    const text = rendered.text;
    expect(text).not.toContain('ORDERED');
    expect(text).not.toContain('SNOOZED');
    // The live episode with its current advice (the P1 escalation), then the ended one, marked.
    expect(text.indexOf('RISING NOW')).toBeLessThan(text.indexOf('SKU LIVE'));
    expect(text.indexOf('SKU LIVE')).toBeLessThan(text.indexOf('OVER: NO LONGER RISING'));
    expect(text.indexOf('OVER: NO LONGER RISING')).toBeLessThan(text.indexOf('SKU OVER'));
    expect(text).toMatch(/P1 Escalated: [^\n]*\n\s+[^\n]*SKU LIVE/);
    expect(text).toContain('suggested reorder quantity 4016');
    expect(text).toContain('The rise is over: rising from 1 Mar, 09:00 UTC');
    expect(text).toContain('suggesting up to 4,016 units for the trend');
  });
});
