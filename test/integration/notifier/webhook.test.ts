/**
 * Webhook delivery against a real local HTTP server: signed bodies, retries on 5xx, and one
 * delivery per buyer and alert even when the alert is consumed twice or the notifier restarts.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotifierConfig } from '../../../services/notifier/config.ts';
import { type Notifier, startNotifier } from '../../../services/notifier/service.ts';
import { parseSubscriptions } from '../../../services/notifier/subscriptions.ts';
import { verifyWebhook } from '../../../services/notifier/webhook.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { createRegistry, type Registry } from '../../../shared/observability/metrics.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { alertFixture } from '../../unit/notifier/alert-fixture.ts';
import { notifierConfig, produceAlerts, waitFor } from './harness.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'notifier-webhook-test' });
const namespace = uniqueNamespace('notifier-hook');
const secret = 'webhook-secret-for-the-integration-test';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}
const requests: Received[] = [];
/** How many times each alert id is answered 503 before the receiver accepts it. */
const failFirst = new Map<string, number>();
let server: Server;
let config: NotifierConfig;
const running: Notifier[] = [];

const accepted = (alertId: string) =>
  requests.filter((r) => r.headers['idempotency-key'] === alertId && r.status === 200).length;

async function consumed(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('trendradar_consumer_records_total')?.get();
  return (metric?.values ?? [])
    .filter((v) => v.labels.outcome === 'done')
    .reduce((sum, v) => sum + v.value, 0);
}

// The receiver's port is known once it listens; the buyer's webhook URL is set then.
const subscriptions = parseSubscriptions({
  buyers: [
    {
      id: 'anna',
      name: 'Anna',
      follows: { categories: ['Shoes'] },
      channels: { webhook: 'http://placeholder.invalid/' },
    },
  ],
});

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      const left = failFirst.get(key) ?? 0;
      const status = left > 0 ? 503 : 200;
      failFirst.set(key, left - 1);
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status).end(status === 200 ? 'ok' : 'try later');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  config = await notifierConfig(kafka, kafkaBrokers, namespace, {
    NOTIFIER_WEBHOOK_SECRET: secret,
    NOTIFIER_WEBHOOK_BACKOFF_MS: '50',
  });
  subscriptions.buyers[0]!.channels.webhook = `http://127.0.0.1:${port}/hooks/anna`;
});

afterAll(async () => {
  for (const notifier of running) await notifier.stop();
  await new Promise((resolve) => server.close(resolve));
});

describe('webhook delivery', () => {
  const first = alertFixture();
  const second = alertFixture({ sku: 'SH-RED-002' });

  it('signs each attempt, retries 5xx, and delivers an alert consumed twice only once', async () => {
    failFirst.set(first.alertId, 2);
    const registry = createRegistry('notifier-test');
    running.push(await startNotifier(config, { subscriptions, registry }));
    await produceAlerts(kafka, namespace, [first, first, second]);

    await waitFor(async () => ((await consumed(registry)) >= 3 ? true : undefined));
    expect(accepted(first.alertId)).toBe(1);
    expect(accepted(second.alertId)).toBe(1);
    const attempts = requests.filter((r) => r.headers['idempotency-key'] === first.alertId);
    expect(attempts.map((r) => r.status)).toEqual([503, 503, 200]);
    for (const attempt of attempts) {
      const headers = {
        timestamp: String(attempt.headers['x-trendradar-timestamp']),
        signature: String(attempt.headers['x-trendradar-signature']),
      };
      expect(verifyWebhook(secret, headers, attempt.body)).toBe(true);
      expect(verifyWebhook('not-the-shared-secret-at-all', headers, attempt.body)).toBe(false);
    }
    const message = JSON.parse(attempts[2]!.body) as { text: string; blocks: unknown[] };
    expect(message.text).toBe('P1 Rising: Maison Rouge — Patent leather pumps (×4.3 usual interest)');
    expect(JSON.stringify(message.blocks)).toContain('180');
  });

  it('sends nothing again after a restart that re-reads every alert from the beginning', async () => {
    await running.pop()!.stop();
    const before = requests.length;
    const registry = createRegistry('notifier-test-2');
    // A fresh consumer group starts at the beginning of the topic: every alert is processed again.
    running.push(
      await startNotifier({ ...config, NOTIFIER_GROUP_ID: 'notifier-rewound' }, { subscriptions, registry }),
    );
    await waitFor(async () => ((await consumed(registry)) >= 3 ? true : undefined));
    expect(requests.length).toBe(before);

    // A new alert still goes out: the ledger blocks repeats, not deliveries.
    const third = alertFixture({ sku: 'SH-RED-003' });
    await produceAlerts(kafka, namespace, [third]);
    await waitFor(() => (accepted(third.alertId) === 1 ? true : undefined));
    expect(requests.length).toBe(before + 1);
  });
});
