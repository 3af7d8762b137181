/**
 * The notifier's /readyz follows every consumer it runs: the alerts consumer, the inbox's view and
 * the delivery ledger's follower. The ledger's was left out: with it down, deliveries by other
 * instances go unseen (the same alert could be sent twice) and /readyz still said ready.
 * The crash is the follower's own kafkajs crash event (one kafkajs restarts, so the process stays).
 */
import type { Consumer, ConsumerConfig, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Notifier, startNotifier } from '../../../services/notifier/service.ts';
import { parseSubscriptions } from '../../../services/notifier/subscriptions.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { createRegistry } from '../../../shared/observability/metrics.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { notifierConfig, waitFor } from './harness.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'notifier-readiness-test' });
const namespace = uniqueNamespace('notifier-readiness');
const registry = createRegistry('notifier-readiness-test');

type CrashListener = (event: { payload: { error: Error; restart: boolean } }) => void;
/** The crash listeners of each consumer, by its group id. */
const crashListeners = new Map<string, CrashListener[]>();

/** The broker's client, but every consumer's crash listeners are kept, to crash it by hand. */
const watchedKafka = new Proxy(kafka, {
  get(target, property, receiver) {
    if (property !== 'consumer') return Reflect.get(target, property, receiver);
    return (config: ConsumerConfig): Consumer => {
      const consumer = target.consumer(config);
      const on = consumer.on.bind(consumer) as (event: string, listener: CrashListener) => () => void;
      const { groupId } = config;
      (consumer as { on: unknown }).on = (event: string, listener: CrashListener) => {
        if (event === consumer.events.CRASH)
          crashListeners.set(groupId, [...(crashListeners.get(groupId) ?? []), listener]);
        return on(event, listener);
      };
      return consumer;
    };
  },
}) as Kafka;

let notifier: Notifier;

beforeAll(async () => {
  const config = await notifierConfig(kafka, kafkaBrokers, namespace);
  notifier = await startNotifier(config, {
    kafka: watchedKafka,
    registry,
    subscriptions: parseSubscriptions({
      buyers: [{ id: 'anna', name: 'Anna Rossi', follows: { categories: ['Shoes'] } }],
    }),
  });
});

afterAll(async () => {
  await notifier?.stop();
});

async function readiness(): Promise<{ status: number; reason: string }> {
  const response = await fetch(new URL('/readyz', notifier.inboxUrl));
  const body = (await response.json()) as { reason: string };
  return { status: response.status, reason: body.reason };
}

async function consumerUp(group: string): Promise<number | undefined> {
  const values = (await registry.getSingleMetric('trendradar_consumer_up')?.get())?.values ?? [];
  return values.find((v) => v.labels.group === group)?.value;
}

describe('notifier readiness', () => {
  it('is ready while the delivery ledger follower runs, and not once it crashed', async () => {
    await waitFor(async () => ((await readiness()).status === 200 ? true : undefined), 60_000);
    expect((await readiness()).reason).toMatch(/ledger: consuming/);
    expect(await consumerUp('notifier-ledger')).toBe(1);
    expect(await consumerUp('notifier-inbox')).toBe(1);

    // The ledger follower's group id is per process: notifier-ledger-<pid>-<random>.
    const listeners = [...crashListeners]
      .filter(([groupId]) => groupId.startsWith('notifier-ledger-'))
      .flatMap(([, list]) => list);
    expect(listeners.length).toBeGreaterThan(0);
    for (const listener of listeners)
      listener({ payload: { error: new Error('KafkaJSNumberOfRetriesExceeded'), restart: true } });

    const after = await readiness();
    expect(after.status).toBe(503);
    expect(after.reason).toMatch(/^ledger: crashed, kafkajs restarts it/);
    expect(await consumerUp('notifier-ledger')).toBe(0);
    // The other consumers are still up.
    expect(await consumerUp('notifier-inbox')).toBe(1);
  });
});
