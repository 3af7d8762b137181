/**
 * Re-driving dead letters on the real broker: `dead-letters` holds the failures of every topic, and
 * a copy with `originalTopic` puts back only those of one (the audited case: an alert action's dead
 * letter landed on uploads), and never one cut to fit the broker's limit (not the original record).
 */
import { describe, expect, it } from 'vitest';
import { parseBound } from '../../../services/replay/plan.ts';
import { copyRange } from '../../../services/replay/replay.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { deadLetterRecord } from '../../../shared/kafka/dead-letter.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, createTopics, headerText } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'replay-dead-letters-test' });
const namespace = uniqueNamespace('redrive');
const topic = (id: string) => `${namespace}.${id}.v1`;

describe('replay copy of dead letters, filtered by dlq.original.topic', () => {
  it('re-drives only the dead letters of the target topic', async () => {
    await createTopics(kafka, [
      [topic('dead-letters'), 3],
      [topic('uploads'), 3],
    ]);
    const failed = (
      original: string,
      i: number,
      value = Buffer.from(JSON.stringify({ i, from: original })),
    ) =>
      deadLetterRecord(
        {
          topic: original,
          partition: 0,
          message: {
            key: Buffer.from(`k-${i}`),
            value,
            timestamp: String(Date.now() - 60_000),
            offset: String(i),
            attributes: 0,
            headers: {},
          },
        },
        new Error('boom'),
        'test',
        3,
      );
    const producer = await connectProducer(kafka);
    await producer.send({
      topic: topic('dead-letters'),
      acks: -1,
      messages: [
        failed(topic('uploads'), 0),
        failed(topic('alert-actions'), 1),
        failed(topic('uploads'), 2),
        failed(topic('mentions'), 3),
        failed('other-namespace.uploads.v1', 4),
        // Too large for the broker as it was: its dead letter holds the value cut, not the record.
        failed(topic('uploads'), 5, Buffer.alloc(1_200_000, 'x')),
      ],
    });
    await producer.disconnect();

    const result = await copyRange(kafka, {
      source: topic('dead-letters'),
      target: topic('uploads'),
      from: parseBound('earliest'),
      until: parseBound('latest'),
      originalTopic: topic('uploads'),
    });
    expect(result).toMatchObject({ copied: 2, filtered: 3, skipped: 0, incomplete: 1 });

    const copied = await collectUntil(kafka, topic('uploads'), (r) => r.length >= 2, 15_000);
    // Wait a moment longer for anything that should not be there.
    const again = await collectUntil(kafka, topic('uploads'), () => false, 3_000);
    expect(again).toHaveLength(2);
    expect(copied.map((r) => JSON.parse(r.message.value!.toString()).i).sort()).toEqual([0, 2]);
    for (const r of copied) {
      expect(headerText(r.message, 'dlq.original.topic')).toBe(topic('uploads'));
      expect(headerText(r.message, 'replay.id')).toBe(result.replayId);
    }
  });
});
