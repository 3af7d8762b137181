/**
 * A key whose state outgrows the changelog's record limit (8 MiB, a hot SKU's member lists) is
 * written in parts, inside the same transaction as the outputs, and a restarted stage restores it
 * whole. Before the parts, such a record was refused by the broker on every attempt and the
 * partition stopped for good.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { PART_KEY_PREFIX } from '../../../services/aggregator/changelog-parts.ts';
import { type PartitionTask, TransactionalStage } from '../../../services/aggregator/transactional-stage.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, createTopics } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'large-state-test' });
const namespace = uniqueNamespace('large-state');
const topic = (name: string): string => `${namespace}.${name}`;
const RECORD_BYTES = 700_000;

/** Keeps every input value in one state key and reports how many it holds and their digest. */
function accumulatingTask(): PartitionTask {
  let items: string[] = [];
  let changed = false;
  return {
    restore: (key, value) => {
      if (key === 'items') items = (value as { items: string[] }).items;
    },
    process: (record) => {
      items.push(record.value!.toString());
      changed = true;
      const digest = createHash('sha256').update(items.join('')).digest('hex');
      return [{ topic: topic('out'), key: 'items', value: `${items.length}:${digest}` }];
    },
    takeChanges: () => {
      if (!changed) return [];
      changed = false;
      return [['items', { items }]];
    },
  };
}

const stages: TransactionalStage[] = [];
async function startStage(): Promise<TransactionalStage> {
  const stage = new TransactionalStage({
    kafka,
    service: 'large-state-test',
    groupId: `${namespace}.stage`,
    transactionalId: `${namespace}.stage`,
    inputTopics: [topic('in')],
    changelogTopic: topic('changelog'),
    deadLetterTopic: topic('dlq'),
    logger: createLogger('large-state-test', 'silent'),
    createTask: accumulatingTask,
  });
  stages.push(stage);
  await stage.start();
  return stage;
}

async function send(values: string[]): Promise<void> {
  const producer = await connectProducer(kafka);
  try {
    for (const value of values)
      await producer.send({ topic: topic('in'), acks: -1, messages: [{ key: 'k', value }] });
  } finally {
    await producer.disconnect();
  }
}

const outputs = (count: number) =>
  collectUntil(kafka, topic('out'), (records) => records.length >= count, 90_000).then((records) =>
    records.map((r) => r.message.value!.toString()),
  );

afterAll(async () => {
  for (const stage of stages) await stage.stop().catch(() => {});
});

describe('state larger than a changelog record', () => {
  it('is written in parts in the transaction and restored whole after a restart', async () => {
    await createTopics(kafka, [
      [topic('in'), 1],
      [topic('out'), 1],
      [topic('dlq'), 1],
    ]);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      // As the aggregator's changelog topics are configured (shared/contracts/topics.ts).
      topics: [
        {
          topic: topic('changelog'),
          numPartitions: 1,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'max.message.bytes', value: String(8 * 1024 * 1024) },
          ],
        },
      ],
    });
    await admin.disconnect();

    // Incompressible values: 13 of them make a state of 9.1 MB, over the 8 MiB limit.
    const values = Array.from({ length: 15 }, () => randomBytes(RECORD_BYTES / 2).toString('hex'));
    const digestOf = (n: number) => createHash('sha256').update(values.slice(0, n).join('')).digest('hex');

    const first = await startStage();
    await send(values.slice(0, 13));
    const before = await outputs(13);
    expect(before.at(-1)).toBe(`13:${digestOf(13)}`);
    await first.stop();

    const changelog = await collectUntil(kafka, topic('changelog'), () => false, 5_000);
    const partKeys = new Set(
      changelog.map((r) => r.message.key!.toString()).filter((key) => key.startsWith(PART_KEY_PREFIX)),
    );
    expect(partKeys.size).toBeGreaterThanOrEqual(Math.ceil((13 * RECORD_BYTES) / (256 * 1024)));
    expect(Math.max(...changelog.map((r) => r.message.value?.length ?? 0))).toBeLessThanOrEqual(256 * 1024);

    // A new instance restores the 9 MB state from its parts and carries on from it.
    await startStage();
    await send(values.slice(13));
    const after = await outputs(15);
    expect(after).toHaveLength(15);
    expect(after.slice(13)).toEqual([`14:${digestOf(14)}`, `15:${digestOf(15)}`]);
  });
});
