/**
 * A transaction that only carries offsets, begun right after one that wrote to many partitions,
 * meets CONCURRENT_TRANSACTIONS on AddOffsetsToTxn: the broker is still writing the previous
 * transaction's markers. kafkajs does not retry that request; the stage does, in the same
 * transaction, instead of aborting it and restoring the partition's state from the changelog.
 *
 * The broker's answer is provoked for real: a task that writes to 48 partitions in every other
 * transaction and nothing in the others (with bare kafkajs, about half of such pairs meet it; in
 * the stage, which works a little between two transactions, one in ten to one in three: the test
 * feeds rounds until it has seen it a few times). Exactly once still holds: every input offset
 * committed, each output written once, no abort, no restore.
 */
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { type PartitionTask, TransactionalStage } from '../../../services/aggregator/transactional-stage.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil, createTopics } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const namespace = uniqueNamespace('concurrent-txn');
const topic = (name: string): string => `${namespace}.${name}`;
const OUT_PARTITIONS = 48;
/** The stage's transaction size: every batch of that many records is one transaction. */
const PER_TRANSACTION = 2_000;
/** 10 pairs of transactions a round; rounds until the broker has answered CONCURRENT_TRANSACTIONS. */
const ROUND_RECORDS = 10 * 2 * PER_TRANSACTION;
const MAX_ROUNDS = 10;
const WANTED = 3;

interface Line {
  level: number;
  msg: string;
  error?: string;
}
const lines: Line[] = [];
const logger = pino(
  { level: 'debug' },
  {
    write: (line: string) => {
      lines.push(JSON.parse(line) as Line);
    },
  },
);
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'concurrent-transactions-test' }, logger);
const quiet = createKafka({ brokers: kafkaBrokers, clientId: 'concurrent-transactions-test-io' });

/**
 * Writes one record to each output partition in the first transaction, nothing in the second, and
 * so on (`takeChanges` is called once per transaction of its partition).
 */
function alternatingTask(): PartitionTask {
  let transactions = 0;
  let written = false;
  return {
    restore: () => {},
    process: (record) => {
      if (transactions % 2 === 1 || written) return [];
      written = true;
      return Array.from({ length: OUT_PARTITIONS }, (_, partition) => ({
        topic: topic('out'),
        key: null,
        value: record.offset,
        partition,
      }));
    },
    takeChanges: () => {
      transactions++;
      written = false;
      return [];
    },
  };
}

let stage: TransactionalStage | undefined;
afterAll(async () => {
  await stage?.stop().catch(() => {});
});

describe('CONCURRENT_TRANSACTIONS on sending offsets', () => {
  it('is retried in the transaction: no abort, no restore, every output once', async () => {
    await createTopics(quiet, [
      [topic('in'), 1],
      [topic('out'), OUT_PARTITIONS],
      [topic('changelog'), 1],
      [topic('dlq'), 1],
    ]);
    const groupId = `${namespace}.stage`;
    stage = new TransactionalStage({
      kafka,
      service: 'concurrent-transactions-test',
      groupId,
      transactionalId: groupId,
      inputTopics: [topic('in')],
      changelogTopic: topic('changelog'),
      deadLetterTopic: topic('dlq'),
      logger,
      createTask: alternatingTask,
    });
    await stage.start();

    // The broker's CONCURRENT_TRANSACTIONS answers (kafkajs logs each answer it receives).
    const provoked = () =>
      lines.filter(
        (l) => l.msg.startsWith('Response AddOffsetsToTxn') && /concurrent operation/.test(l.error ?? ''),
      ).length;
    // Rounds of input until the broker has answered so a few times: in the stage, with a little
    // work between two transactions, about one pair in ten meets it.
    const producer = await connectProducer(quiet);
    const admin = quiet.admin();
    await admin.connect();
    let sent = 0;
    let committed = -1;
    try {
      for (let round = 0; round < MAX_ROUNDS && provoked() < WANTED; round++) {
        for (let i = 0; i < ROUND_RECORDS; i += 5_000)
          await producer.send({
            topic: topic('in'),
            acks: -1,
            messages: Array.from({ length: 5_000 }, () => ({ key: null, value: 'x' })),
          });
        sent += ROUND_RECORDS;
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic('in')] });
          committed = Number(offsets?.partitions[0]?.offset ?? -1);
          if (committed >= sent) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        expect(committed).toBe(sent);
      }
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    await stage.stop();
    stage = undefined;

    expect(provoked()).toBeGreaterThan(0);
    // No transaction given up, no state restored but the one at start…
    expect(lines.filter((l) => l.msg === 'transaction failed; state will be restored')).toEqual([]);
    expect(lines.filter((l) => l.msg === 'state restored')).toHaveLength(1);
    // …the stage sent the offsets again each time, and said so at debug level.
    const retried = lines.filter((l) => l.msg === 'sending offsets to the transaction: retrying');
    expect(retried.length).toBeGreaterThanOrEqual(provoked());
    expect(retried.every((l) => l.level === 20)).toBe(true);

    // Exactly once: every output partition holds the same outputs, none twice.
    const outputs = await collectUntil(quiet, topic('out'), () => false, 8_000);
    const byPartition = new Map<number, string[]>();
    for (const { partition, message } of outputs)
      byPartition.set(partition, [...(byPartition.get(partition) ?? []), message.value!.toString()]);
    expect(byPartition.size).toBe(OUT_PARTITIONS);
    const first = byPartition.get(0)!;
    expect(first.length).toBeGreaterThanOrEqual((sent / ROUND_RECORDS) * 10);
    expect(new Set(first).size).toBe(first.length);
    for (const values of byPartition.values()) expect(values).toEqual(first);
  });
});
