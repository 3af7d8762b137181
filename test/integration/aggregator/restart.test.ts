/**
 * Kill the aggregator (SIGKILL, no clean shutdown) mid-stream, restart it, and the alerts topic
 * holds exactly the alerts of an uninterrupted run: same ids, none twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultAggregatorConfig } from '../../../services/aggregator/config.ts';
import { startAggregator } from '../../../services/aggregator/service.ts';
import { topicNames } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { committedRecords, produceFeed, readAlerts, readCommitted, waitForDrain } from './pipeline.ts';
import { DETERMINISM_SETTINGS, determinismBacklog } from './scenario-feed.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'aggregator-restart-test' });
const settings = DETERMINISM_SETTINGS;
const feed = determinismBacklog();
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('aggregator restart', () => {
  it('emits exactly the alerts of an uninterrupted run after a SIGKILL mid-stream', async () => {
    // Reference: one uninterrupted run in process.
    const reference = uniqueNamespace('aggregator-ref');
    await produceFeed(kafka, reference, feed);
    const config = defaultAggregatorConfig({
      ...settings,
      TOPIC_NAMESPACE: reference,
      KAFKA_BROKERS: kafkaBrokers.join(','),
    });
    const running = await startAggregator(config, { logger: createLogger('aggregator-ref', 'silent') });
    expect(await waitForDrain(kafka, reference, config.AGGREGATOR_GROUP_ID, 150_000)).toBe(true);
    await running.stop();
    const expected = (await readAlerts(kafka, topicNames(reference)['reorder-alerts'])).map((a) => a.alertId);
    expect(expected.length).toBeGreaterThan(0);
    expect(new Set(expected).size).toBe(expected.length);

    // The same input, and a worker killed while the windowing stage is half way through.
    const namespace = uniqueNamespace('aggregator-kill');
    await produceFeed(kafka, namespace, feed);
    const env = {
      ...process.env,
      ...settings,
      TOPIC_NAMESPACE: namespace,
      KAFKA_BROKERS: kafkaBrokers.join(','),
    };
    const first = startWorker(env);
    const signalsTopic = topicNames(namespace)['signals-by-sku'];
    const trendsGroup = `${namespace}.${config.AGGREGATOR_GROUP_ID}.trends`;
    const deadline = Date.now() + 120_000;
    let progress = 0;
    while (Date.now() < deadline) {
      progress = await committedRecords(kafka, trendsGroup, signalsTopic);
      if (progress > 2_000) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect(progress).toBeGreaterThan(2_000);
    const beforeRestart = await readAlerts(kafka, topicNames(namespace)['reorder-alerts'], 2_000);
    expect(beforeRestart.length).toBeLessThan(expected.length); // really killed mid-stream

    const second = startWorker(env);
    expect(await waitForDrain(kafka, namespace, config.AGGREGATOR_GROUP_ID, 150_000)).toBe(true);
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));

    const alerts = (await readAlerts(kafka, topicNames(namespace)['reorder-alerts'])).map((a) => a.alertId);
    expect(alerts.sort()).toEqual([...expected].sort());
    // A restart keeps the replay in event-time order: nothing came too late for its windows.
    const late = await readCommitted(kafka, topicNames(namespace)['late-signals'], (v) => String(v), 1_000);
    expect(late).toEqual([]);
  });
});

function startWorker(env: NodeJS.ProcessEnv): ChildProcess {
  // One process (tsx as a loader, not its CLI wrapper), so SIGKILL really kills the worker.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./fixtures/aggregator-worker.ts', import.meta.url).pathname],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.resume();
  let errors = '';
  child.stderr!.on('data', (d) => {
    errors += d;
  });
  child.once('exit', (code, signal) => {
    if (code && signal === null && errors)
      process.stderr.write(`aggregator worker exited ${code}: ${errors}\n`);
  });
  children.push(child);
  return child;
}
