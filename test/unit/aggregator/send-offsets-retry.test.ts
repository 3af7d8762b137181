/**
 * The stage's retry of a transaction's offsets (kafkajs sends AddOffsetsToTxn once) and the names
 * of its restore groups. The broker errors are kafkajs' own, made as its connection makes them
 * from a response's error code. `concurrent-transactions.test.ts` provokes the real answer.
 */
import { createRequire } from 'node:module';
import type {
  KafkaJSProtocolError,
  KafkaJSNonRetriableError as NonRetriable,
  KafkaJSNumberOfRetriesExceeded as RetriesExceeded,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  isRestoreGroupOf,
  restoreGroupOf,
  retriableInTransaction,
  SEND_OFFSETS_RETRY,
  sendOffsetsRetrying,
} from '../../../services/aggregator/transactional-stage.ts';

// Required, as the stage's process would see them (Node's ESM loader cannot name them).
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => KafkaJSProtocolError;
};
const { KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } = require('kafkajs') as {
  KafkaJSNonRetriableError: typeof NonRetriable;
  KafkaJSNumberOfRetriesExceeded: typeof RetriesExceeded;
};
const CONCURRENT_TRANSACTIONS = 51;
const INVALID_PRODUCER_EPOCH = 47;
const GROUP_LOAD_IN_PROGRESS = 14;
const NOT_COORDINATOR = 16;
const fast = { attempts: 4, firstBackoffMs: 1, maxBackoffMs: 2 };
const offsets = {
  consumerGroupId: 'g',
  topics: [{ topic: 't', partitions: [{ partition: 0, offset: '42' }] }],
};

/** A transaction whose sendOffsets fails with `errors` in turn, then succeeds. */
function transactionFailing(...errors: Error[]) {
  const calls: unknown[] = [];
  return {
    calls,
    sendOffsets: async (sent: unknown) => {
      calls.push(sent);
      const error = errors.shift();
      if (error) throw error;
    },
  };
}

function recordingLogger() {
  const debug: Array<Record<string, unknown>> = [];
  return { debug, logger: { debug: (fields: Record<string, unknown>) => debug.push(fields) } as never };
}

describe('sending a transaction offsets', () => {
  it('sends them again, the same, after CONCURRENT_TRANSACTIONS, logging at debug level', async () => {
    const error = createErrorFromCode(CONCURRENT_TRANSACTIONS);
    expect(error.name).toBe('KafkaJSProtocolError');
    const transaction = transactionFailing(error, createErrorFromCode(CONCURRENT_TRANSACTIONS));
    const { debug, logger } = recordingLogger();
    await sendOffsetsRetrying(transaction, offsets, logger, fast);
    expect(transaction.calls).toEqual([offsets, offsets, offsets]);
    expect(debug.map((d) => [d.error, d.attempt, d.backoffMs])).toEqual([
      ['CONCURRENT_TRANSACTIONS', 1, 1],
      ['CONCURRENT_TRANSACTIONS', 2, 2],
    ]);
  });

  it('also after a coordinator loading or moving, and when kafkajs wrapped the error', async () => {
    // As kafkajs' retrier wraps an error it does not retry (its constructor takes a cause; its types say not).
    const Wrapping = KafkaJSNonRetriableError as unknown as new (e: Error, m: { cause: Error }) => Error;
    const cause = createErrorFromCode(CONCURRENT_TRANSACTIONS);
    const wrapped = new Wrapping(cause, { cause });
    const transaction = transactionFailing(
      createErrorFromCode(GROUP_LOAD_IN_PROGRESS),
      createErrorFromCode(NOT_COORDINATOR),
      wrapped,
    );
    await sendOffsetsRetrying(transaction, offsets, recordingLogger().logger, fast);
    expect(transaction.calls).toHaveLength(4);
  });

  it('gives up after the last attempt with the broker error (the stage then aborts)', async () => {
    const errors = Array.from({ length: 10 }, () => createErrorFromCode(CONCURRENT_TRANSACTIONS));
    const last = errors[fast.attempts - 1];
    const transaction = transactionFailing(...errors);
    await expect(sendOffsetsRetrying(transaction, offsets, recordingLogger().logger, fast)).rejects.toBe(
      last,
    );
    expect(transaction.calls).toHaveLength(fast.attempts);
  });

  it('does not retry a fenced producer, an error kafkajs retried already, or anything else', async () => {
    const retried = new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(CONCURRENT_TRANSACTIONS), {
      retryCount: 5,
      retryTime: 100,
    });
    for (const error of [createErrorFromCode(INVALID_PRODUCER_EPOCH), retried, new Error('boom')]) {
      const transaction = transactionFailing(error);
      await expect(sendOffsetsRetrying(transaction, offsets, recordingLogger().logger, fast)).rejects.toBe(
        error,
      );
      expect(transaction.calls).toHaveLength(1);
    }
    expect(retriableInTransaction(undefined)).toBeUndefined();
  });

  it('is bounded: under 2 s of waiting in all', () => {
    const { attempts, firstBackoffMs, maxBackoffMs } = SEND_OFFSETS_RETRY;
    let total = 0;
    for (let attempt = 1; attempt < attempts; attempt++)
      total += Math.min(maxBackoffMs, firstBackoffMs * 2 ** (attempt - 1));
    expect(total).toBeLessThan(2_000);
  });
});

describe('restore groups', () => {
  it("are told apart from other groups by the stage's group and a uuid", () => {
    const id = '0f8fad5b-d9cb-469f-a165-70867728950e';
    expect(isRestoreGroupOf('ns.aggregator.trends', restoreGroupOf('ns.aggregator.trends', id))).toBe(true);
    expect(isRestoreGroupOf('ns.aggregator.trends', 'ns.aggregator.trends')).toBe(false);
    expect(isRestoreGroupOf('ns.aggregator.trends', `ns.aggregator.trends-restore-${id}x`)).toBe(false);
    expect(isRestoreGroupOf('ns.aggregator', restoreGroupOf('ns.aggregator.trends', id))).toBe(false);
    expect(isRestoreGroupOf('ns.aggregator.trends', restoreGroupOf('ns.aggregator.attribution', id))).toBe(
      false,
    );
  });
});
