/**
 * docs/replay.md's re-run of the aggregator: its input topics copied into another namespace with
 * `replay copy`, and the aggregator run there. The copy writes record batches of up to 900 KB,
 * and mentions carry the photo's embedding as the embedder writes them (512 numbers), so a batch
 * holds a whole partition: before, such batches came one partition per fetch and the event-time
 * alignment held every partition back for good (no signal, no error, the service "ready").
 */
import { describe, expect, it } from 'vitest';
import { parseBound } from '../../../services/replay/plan.ts';
import { copyRange } from '../../../services/replay/replay.ts';
import { type TopicId, topicName } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { runAggregatorOn, runDetection } from './pipeline.ts';
import { DETERMINISM_SETTINGS, determinismBacklog } from './scenario-feed.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'aggregator-rerun-copy-test' });
const settings = { ...DETERMINISM_SETTINGS, KAFKA_BROKERS: kafkaBrokers.join(',') };
const COPIED: TopicId[] = ['catalogue-embeddings', 'inventory', 'mentions', 'interactions'];

describe('a re-run of the aggregator on copied topics', () => {
  it('drains the copy and raises the alerts of the original run', async () => {
    const feed = determinismBacklog();
    for (const event of feed.events)
      if (event.topic === 'mentions')
        (event.value as { photoEmbedding?: number[] }).photoEmbedding = Array.from(
          { length: 512 },
          (_, i) => ((i * 7919) % 1000) / 1000 + 0.000123,
        );
    const original = uniqueNamespace('aggregator-rerun-src');
    const first = await runDetection(kafka, original, feed, settings, 150_000);
    expect(first.drained).toBe(true);
    expect(first.alerts.length).toBeGreaterThan(0);

    const rerun = uniqueNamespace('aggregator-rerun-dst');
    await applyTopics(kafka, { namespace: rerun });
    for (const topic of COPIED) {
      const copy = await copyRange(kafka, {
        source: topicName(topic, original),
        target: topicName(topic, rerun),
        from: parseBound('earliest'),
        until: parseBound('latest'),
      });
      expect(copy.copied, topic).toBeGreaterThan(0);
    }
    const second = await runAggregatorOn(kafka, rerun, settings, 120_000);
    expect(second.drained).toBe(true);
    expect(second.signals).toBe(first.signals);
    expect(second.lateSignals).toBe(0);
    const ids = (run: typeof first) => run.alerts.map((a) => a.alertId).sort();
    expect(ids(second)).toEqual(ids(first));
  });
});
