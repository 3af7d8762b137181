/**
 * An input partition with nothing to read must not hold the others back. kafkajs reports nothing
 * for a partition whose fetches come back empty, so the attribution stage would wait for it as for
 * one "not started" until the idle time passes (an hour here): the stage reads at join where each
 * partition ends and counts one with nothing to read as caught up.
 */
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { TOPICS } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { runDetection } from './pipeline.ts';
import { DETERMINISM_SETTINGS, detectionFeed } from './scenario-feed.ts';

const { Partitioners } = kafkajs;
const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'aggregator-quiet-partition-test' });

describe('aggregator with a quiet input partition', () => {
  it('replays the others without waiting for the partition that has nothing to send', async () => {
    const days = 2;
    const full = detectionFeed({ seed: 3, days, trends: 2, baselinePerHour: 2 });
    // Posts and their interactions share a key and a partition count: leaving out the posts the
    // producer would send to partition 0 leaves partition 0 of both input topics empty.
    const partitions = TOPICS.find((spec) => spec.id === 'mentions')!.partitions;
    const partitionOf = Partitioners.DefaultPartitioner();
    const metadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    const quiet = (key: string) =>
      partitionOf({ topic: 'mentions', partitionMetadata: metadata, message: { key, value: null } }) === 0;
    const feed = { ...full, events: full.events.filter((event) => !quiet(event.key)) };
    expect(feed.events.length).toBeLessThan(full.events.length);
    expect(feed.events.length).toBeGreaterThan(full.events.length / 2);

    const run = await runDetection(
      kafka,
      uniqueNamespace('aggregator-quiet'),
      feed,
      { KAFKA_BROKERS: kafkaBrokers.join(','), ...DETERMINISM_SETTINGS },
      120_000,
    );
    expect(run.drained).toBe(true);
    expect(run.signals).toBeGreaterThan(5_000);
    expect(run.lateSignals).toBe(0);
    // Ready while both stages and the reference tables run, and not once stopped.
    expect(run.readyWhenDrained).toBe(true);
    expect(Object.values(run.consumersUp)).toEqual([1, 1, 1]);
    expect(run.readyWhenStopped).toBe(false);
  });
});
