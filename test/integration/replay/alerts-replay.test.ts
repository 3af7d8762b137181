/**
 * Replaying alerts sends no notification twice: neither a copy of the same alerts into the live
 * topic (e.g. from another namespace) nor rewinding the notifier's consumer group to the start.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotifierConfig } from '../../../services/notifier/config.ts';
import { type Notifier, startNotifier } from '../../../services/notifier/service.ts';
import { parseSubscriptions } from '../../../services/notifier/subscriptions.ts';
import { parseBound } from '../../../services/replay/plan.ts';
import { applyReset, copyRange, planReset } from '../../../services/replay/replay.ts';
import { ReorderAlert } from '../../../shared/contracts/events.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { createRegistry, type Registry } from '../../../shared/observability/metrics.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { alertFixture } from '../../unit/notifier/alert-fixture.ts';
import { applyTopicsSettled, notifierConfig, waitFor } from '../notifier/harness.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'replay-alerts-test' });
const live = uniqueNamespace('replay-alerts');
const staging = uniqueNamespace('replay-staging');
const deliveries: string[] = [];
let server: Server;
let config: NotifierConfig;
let notifier: Notifier | undefined;

const alerts = ['SH-RED-001', 'SH-RED-002', 'BG-TAN-014'].map((sku) => alertFixture({ sku }));

async function consumed(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('trendradar_consumer_records_total')?.get();
  return (metric?.values ?? [])
    .filter((v) => v.labels.outcome === 'done')
    .reduce((sum, v) => sum + v.value, 0);
}

async function produce(namespace: string): Promise<void> {
  const producer = await connectProducer(kafka);
  await producer.send({
    topic: topicName('reorder-alerts', namespace),
    acks: -1,
    messages: alerts.map((alert) => ({ key: alert.sku, value: encode(ReorderAlert, alert) })),
  });
  await producer.disconnect();
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      deliveries.push(String(req.headers['idempotency-key']));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  config = await notifierConfig(kafka, kafkaBrokers, live, {
    NOTIFIER_WEBHOOK_SECRET: 'replay-test-secret-0123456789',
  });
  await applyTopicsSettled(kafka, staging);
});

afterAll(async () => {
  await notifier?.stop();
  await new Promise((resolve) => server.close(resolve));
});

describe('replaying alerts', () => {
  it('notifies each buyer once per alert however often the alerts are replayed', async () => {
    const subscriptions = parseSubscriptions({
      buyers: [
        {
          id: 'anna',
          name: 'Anna',
          follows: { regions: ['IT'] },
          channels: { webhook: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` },
        },
      ],
    });
    let registry = createRegistry('replay-alerts-1');
    notifier = await startNotifier(config, { subscriptions, registry });
    await produce(live);
    await waitFor(() => (deliveries.length >= 3 ? true : undefined));
    expect(deliveries.sort()).toEqual(alerts.map((a) => a.alertId).sort());

    // 1. The same alerts copied into the live topic from another namespace.
    await produce(staging);
    const copy = await copyRange(kafka, {
      source: topicName('reorder-alerts', staging),
      target: topicName('reorder-alerts', live),
      from: parseBound('earliest'),
      until: parseBound('latest'),
    });
    expect(copy.copied).toBe(3);
    await waitFor(async () => ((await consumed(registry)) >= 6 ? true : undefined));

    // 2. The notifier stopped, its group rewound to the beginning, and started again.
    await notifier.stop();
    const group = `${live}.${config.NOTIFIER_GROUP_ID}`;
    const plan = await planReset(kafka, {
      group,
      topic: topicName('reorder-alerts', live),
      to: parseBound('earliest'),
    });
    expect(plan.live).toBe(true);
    await applyReset(kafka, plan);
    registry = createRegistry('replay-alerts-2');
    notifier = await startNotifier(config, { subscriptions, registry });
    await waitFor(async () => ((await consumed(registry)) >= 6 ? true : undefined));

    expect(deliveries).toHaveLength(3);
  });
});
