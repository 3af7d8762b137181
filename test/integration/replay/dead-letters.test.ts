/**
 * Re-driving dead letters on the real broker: `dead-letters` holds the failures of every topic, and
 * a copy with `originalTopic` puts back only those of one (the audited case: an alert action's dead
 * letter landed on uploads), and never one cut to fit the broker's limit (not the original record);
 * and a bad record dead-lettered by several services (the embedder and the indexer both consume
 * uploads) goes back once per re-drive, or only the dead letters of one service with `service`.
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

describe('replay copy of dead letters from several services', () => {
  const ns = uniqueNamespace('redrive-twice');
  const t = (id: string) => `${ns}.${id}.v1`;
  /** The dead letter `service` wrote for uploads record `offset` (in partition `partition`). */
  const letter = (service: string, partition: number, offset: number) =>
    deadLetterRecord(
      {
        topic: t('uploads'),
        partition,
        message: {
          key: Buffer.from(`k-${partition}-${offset}`),
          value: Buffer.from(JSON.stringify({ partition, offset })),
          timestamp: String(Date.now() - 60_000),
          offset: String(offset),
          attributes: 0,
          headers: {},
        },
      },
      new Error('bad upload'),
      service,
      1,
    );

  it('re-drives each original record once, and one service with service', async () => {
    await createTopics(kafka, [
      [t('dead-letters'), 3],
      [t('uploads'), 3],
      [t('uploads-indexer'), 3],
    ]);
    // The audited case: 4 bad uploads, each dead-lettered by the embedder and the indexer (keyed
    // by the original's key, so one original's dead letters may share a partition or not).
    const originals: Array<[number, number]> = [
      [0, 3],
      [0, 4],
      [1, 3],
      [2, 7],
    ];
    const producer = await connectProducer(kafka);
    for (const service of ['embedder', 'indexer'])
      await producer.send({
        topic: t('dead-letters'),
        acks: -1,
        messages: originals.map(([partition, offset]) => letter(service, partition, offset)),
      });
    await producer.disconnect();

    const result = await copyRange(kafka, {
      source: t('dead-letters'),
      target: t('uploads'),
      from: parseBound('earliest'),
      until: parseBound('latest'),
      originalTopic: t('uploads'),
    });
    expect(result).toMatchObject({ copied: 4, duplicates: 4, filtered: 0, incomplete: 0 });
    await collectUntil(kafka, t('uploads'), (r) => r.length >= 4, 15_000);
    const redriven = await collectUntil(kafka, t('uploads'), () => false, 3_000);
    expect(redriven).toHaveLength(4);
    const originalsOf = (records: typeof redriven) => records.map((r) => r.message.value!.toString()).sort();
    expect(originalsOf(redriven)).toEqual(
      originals.map(([partition, offset]) => JSON.stringify({ partition, offset })).sort(),
    );

    // The indexer's only, into a topic outside the contracts (it needs no --original-topic there).
    const indexerOnly = await copyRange(kafka, {
      source: t('dead-letters'),
      target: t('uploads-indexer'),
      from: parseBound('earliest'),
      until: parseBound('latest'),
      originalTopic: t('uploads'),
      service: 'indexer',
    });
    expect(indexerOnly).toMatchObject({ copied: 4, duplicates: 0, filtered: 4 });
    await collectUntil(kafka, t('uploads-indexer'), (r) => r.length >= 4, 15_000);
    const kept = await collectUntil(kafka, t('uploads-indexer'), () => false, 3_000);
    expect(kept).toHaveLength(4);
    expect(new Set(kept.map((r) => headerText(r.message, 'dlq.service')))).toEqual(new Set(['indexer']));
  });
});
