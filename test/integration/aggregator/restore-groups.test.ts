/**
 * Each restore reads the changelog with a consumer group of its own (kafkajs cannot read without
 * one). Before, those groups stayed on the broker with their committed offsets, one per restore,
 * and every lag exporter saw them fall behind. Now a restore commits nothing and deletes its group,
 * and a starting stage deletes the ones earlier runs left; another stage's groups stay.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { type PartitionTask, TransactionalStage } from '../../../services/aggregator/transactional-stage.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, createTopics } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'restore-groups-test' });
const namespace = uniqueNamespace('restore-groups');
const topic = (name: string): string => `${namespace}.${name}`;
const groupId = `${namespace}.stage`;
const PARTITIONS = 2;

const logged: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line).msg) });

/** Counts its partition's records; the count is its state. */
function countingTask(partition: number): PartitionTask {
  let count = 0;
  let changed = false;
  return {
    restore: (key, value) => {
      if (key === 'count') count = value as number;
    },
    process: () => {
      count++;
      changed = true;
      return [{ topic: topic('out'), key: String(partition), value: `${partition}:${count}` }];
    },
    takeChanges: () => {
      if (!changed) return [];
      changed = false;
      return [['count', count]];
    },
  };
}

let stage: TransactionalStage | undefined;
afterAll(async () => {
  await stage?.stop().catch(() => {});
});

async function runStage(records: number, outputsBefore: number): Promise<string[]> {
  stage = new TransactionalStage({
    kafka,
    service: 'restore-groups-test',
    groupId,
    transactionalId: groupId,
    inputTopics: [topic('in')],
    changelogTopic: topic('changelog'),
    deadLetterTopic: topic('dlq'),
    logger,
    createTask: countingTask,
  });
  await stage.start();
  const producer = await connectProducer(kafka);
  try {
    await producer.send({
      topic: topic('in'),
      acks: -1,
      messages: Array.from({ length: records }, (_, i) => ({ value: 'x', partition: i % PARTITIONS })),
    });
  } finally {
    await producer.disconnect();
  }
  const total = outputsBefore + records;
  const outputs = await collectUntil(kafka, topic('out'), (r) => r.length >= total, 60_000);
  await stage.stop();
  stage = undefined;
  return outputs.map((r) => r.message.value!.toString());
}

describe('restore consumer groups', () => {
  it('are not left on the broker after restores, nor from earlier runs', async () => {
    await createTopics(kafka, [
      [topic('in'), PARTITIONS],
      [topic('out'), 1],
      [topic('changelog'), PARTITIONS],
      [topic('dlq'), 1],
    ]);
    const admin = kafka.admin();
    await admin.connect();
    // What an earlier run left: a restore group of this stage with committed offsets (as every
    // restore did before), and one of another stage, which is not this stage's to delete.
    const leftover = `${groupId}-restore-${randomUUID()}`;
    const otherStage = `${namespace}.other-restore-${randomUUID()}`;
    try {
      for (const id of [leftover, otherStage])
        await admin.setOffsets({
          groupId: id,
          topic: topic('changelog'),
          partitions: [{ partition: 0, offset: '0' }],
        });
      const [before] = await admin.fetchOffsets({ groupId: leftover, topics: [topic('changelog')] });
      expect(before?.partitions.find((p) => p.partition === 0)?.offset).toBe('0');

      // A first run, then a restart that restores each partition's count from the changelog.
      await runStage(10, 0);
      const outputs = await runStage(10, 10);
      expect(outputs.filter((o) => o.startsWith('0:')).at(-1)).toBe('0:10');
      expect(outputs.filter((o) => o.startsWith('1:')).at(-1)).toBe('1:10');
      expect(logged.filter((m) => m === 'state restored').length).toBeGreaterThanOrEqual(2);

      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(groups.filter((g) => g.startsWith(`${groupId}-restore-`))).toEqual([]);
      expect(groups).toContain(otherStage);
      expect(groups).toContain(groupId); // the stage's own group, of course, stays
      expect(logged).not.toContain('could not delete restore groups');
    } finally {
      await admin.deleteGroups([otherStage]).catch(() => {});
      await admin.disconnect();
    }
  });
});
