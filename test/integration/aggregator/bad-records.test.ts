/**
 * What the aggregator does with input it must not trust, through the real pipeline: a record that
 * breaks its contract and one dated far in the future go to the dead-letter topic with their
 * origin, a re-delivered interaction (a client retry: same event id) is dropped, and none of them
 * changes a count, moves a clock or makes anything late.
 */
import { describe, expect, it } from 'vitest';
import { defaultAggregatorConfig } from '../../../services/aggregator/config.ts';
import { topicNames } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { readCommitted, runDetection } from './pipeline.ts';
import { DETERMINISM_SETTINGS, detectionFeed, runCore } from './scenario-feed.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'aggregator-bad-records-test' });

describe('aggregator with bad input', () => {
  it('dead-letters broken and future-dated records, drops re-deliveries, and counts the rest as if they were not there', async () => {
    const clean = detectionFeed({ seed: 2, days: 2, trends: 1, baselinePerHour: 2 });
    const at = clean.events.findIndex((e, i) => e.topic === 'interactions' && i > clean.events.length / 2);
    const original = clean.events[at]!;
    const value = original.value as Record<string, unknown>;
    // Deliberately outside the contract, hence the cast.
    const injected = [
      { ...original },
      { ...original, value: { ...value, eventId: 'broken-1', memberId: undefined } },
      { ...original, value: { ...value, eventId: 'from-2099', timestamp: '2099-01-01T00:00:00.000Z' } },
      // Valid as v1, but written to a newer contract: its new fields would be lost if read as v1.
      {
        ...original,
        value: { ...value, eventId: 'contract-v2' },
        headers: { 'trendradar-schema': 'interactions.v2' },
      },
    ] as unknown as typeof clean.events;
    const feed = {
      ...clean,
      events: [...clean.events.slice(0, at + 1), ...injected, ...clean.events.slice(at + 1)],
    };
    const namespace = uniqueNamespace('aggregator-bad');
    const run = await runDetection(
      kafka,
      namespace,
      feed,
      { KAFKA_BROKERS: kafkaBrokers.join(','), ...DETERMINISM_SETTINGS },
      120_000,
    );
    expect(run.drained).toBe(true);
    expect(run.duplicateInteractions).toBe(1);
    expect(run.lateSignals).toBe(0);
    // Exactly the signals of the clean feed through the pure core.
    expect(run.signals).toBe(runCore(clean, defaultAggregatorConfig()).signals);

    const dead = await readCommitted(kafka, topicNames(namespace)['dead-letters'], (bytes, message) => ({
      eventId: (JSON.parse(bytes!.toString('utf8')) as { eventId: string }).eventId,
      topic: message.headers?.['dlq.original.topic']?.toString(),
      offset: message.headers?.['dlq.original.offset']?.toString(),
      error: message.headers?.['dlq.error']?.toString() ?? '',
    }));
    expect(dead.map((d) => d.eventId).sort()).toEqual(['broken-1', 'contract-v2', 'from-2099']);
    expect(dead.find((d) => d.eventId === 'contract-v2')!.error).toMatch(/contract interactions\.v2/);
    for (const record of dead) {
      expect(record.topic).toBe(topicNames(namespace).interactions);
      expect(Number(record.offset)).toBeGreaterThanOrEqual(0);
    }
    expect(dead.find((d) => d.eventId === 'from-2099')!.error).toMatch(/ahead of the clock/);
    expect(dead.find((d) => d.eventId === 'broken-1')!.error).toMatch(/memberId/);
  });
});
