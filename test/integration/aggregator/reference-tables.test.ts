/**
 * The stock table the alerts join, read from a real compacted topic: an ERP record that breaks the
 * contract is refused and takes the older record for its SKU with it (alerts then say "no stock
 * record" rather than show stock the ERP has since changed); a backorder (negative on hand) is valid.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ReferenceTables } from '../../../services/aggregator/tables.ts';
import { connectProducer, createKafka } from '../../../shared/kafka/client.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { createTopics } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'reference-tables-test' });
const namespace = uniqueNamespace('tables');
const topics = { catalogue: `${namespace}.catalogue`, inventory: `${namespace}.inventory` };
const groupPrefix = `${namespace}.aggregator`;
const tables = new ReferenceTables(
  kafka,
  topics,
  createLogger('reference-tables-test', 'silent'),
  groupPrefix,
);

afterAll(async () => {
  await tables.stop();
});

const level = (sku: string, onHand: number) =>
  JSON.stringify({
    sku,
    onHand,
    onOrder: 0,
    leadTimeDays: 10,
    dailySales: 4,
    updatedAt: '2026-03-02T08:00:00.000Z',
  });

describe('reference tables', () => {
  it('drops the stock of a SKU whose latest record is invalid, and keeps backorders', async () => {
    await createTopics(kafka, [
      [topics.catalogue, 1],
      [topics.inventory, 1],
    ]);
    const producer = await connectProducer(kafka);
    await producer.send({
      topic: topics.inventory,
      acks: -1,
      messages: [
        { key: 'RED', value: level('RED', 30) },
        { key: 'RED', value: '{"sku":"RED","onHand":"lots"}' },
        { key: 'BLUE', value: level('BLUE', -12) },
        { key: 'GREEN', value: level('GREEN', 5) },
      ],
    });
    await producer.disconnect();
    await tables.start(30_000);
    expect(tables.inventory('RED')).toBeUndefined();
    expect(tables.inventory('BLUE')?.onHand).toBe(-12);
    expect(tables.inventory('GREEN')?.onHand).toBe(5);
    expect(tables.rejected).toBe(1);
  });

  it('names its throwaway group after its namespace and leaves none behind once stopped', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const tablesGroups = async () =>
        new Set(
          (await admin.listGroups()).groups
            .map((g) => g.groupId)
            .filter((g) => g.startsWith(`${groupPrefix}.tables-`)),
        );
      const before = await tablesGroups();
      const other = new ReferenceTables(
        kafka,
        topics,
        createLogger('reference-tables-test', 'silent'),
        groupPrefix,
      );
      await other.start();
      const own = [...(await tablesGroups())].filter((g) => !before.has(g));
      expect(own).toHaveLength(1);
      await other.stop();
      expect([...(await tablesGroups())]).not.toContain(own[0]);
    } finally {
      await admin.disconnect();
    }
  });
});
