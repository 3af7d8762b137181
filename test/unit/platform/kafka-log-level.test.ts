import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaLogLevel } from '../../../shared/kafka/client.ts';

const CONCURRENT =
  'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

describe('kafkajs log levels', () => {
  it("writes a broker's error answer as a warning: the caller retries it or reports it itself", () => {
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection', 'Response AddOffsetsToTxn(key: 25, version: 1)')).toBe(
      'warn',
    );
  });

  it("writes the producer's retried sends as warnings (CONCURRENT_TRANSACTIONS, a leader moving)", () => {
    const retry = { retryCount: 0, retryTime: 312 };
    expect(kafkaLogLevel(logLevel.ERROR, 'Producer', `Failed to send messages: ${CONCURRENT}`, retry)).toBe(
      'warn',
    );
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Producer',
        'Failed to send messages: This server is not the leader for that topic-partition',
        { retryCount: 3, retryTime: 2_000 },
      ),
    ).toBe('warn');
    // The same pattern from another retry loop (a broker pool, an admin request).
    expect(kafkaLogLevel(logLevel.ERROR, 'BrokerPool', CONCURRENT, retry)).toBe('warn');
  });

  it('keeps an error that kafkajs does not retry, or that no retry loop logged, an error', () => {
    const retry = { retryCount: 0, retryTime: 300 };
    // Not retriable: kafkajs gives up at once.
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Producer',
        'The producer attempted a transactional operation in an invalid state',
        retry,
      ),
    ).toBe('error');
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Producer',
        "Producer attempted an operation with an old epoch. Either there is a newer producer with the same transactionalId, or the producer's transaction has been expired by the broker",
        retry,
      ),
    ).toBe('error');
    // A broker that cannot be reached is worth an error even while it is retried.
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Producer',
        'Failed to send messages: Connection error: connect ECONNREFUSED 127.0.0.1:9092',
        retry,
      ),
    ).toBe('error');
    // Without retryCount nothing says that it is retried.
    expect(kafkaLogLevel(logLevel.ERROR, 'Producer', `Failed to send messages: ${CONCURRENT}`)).toBe('error');
    expect(kafkaLogLevel(logLevel.ERROR, 'Producer', 'Failed to execute listener: boom', {})).toBe('error');
  });

  it('keeps every other error an error, and the other levels as they are', () => {
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection', 'Connection error: connect ECONNREFUSED')).toBe(
      'error',
    );
    expect(kafkaLogLevel(logLevel.ERROR, 'Consumer', 'Crash: KafkaJSNumberOfRetriesExceeded')).toBe('error');
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Consumer', `Crash: KafkaJSNumberOfRetriesExceeded: ${CONCURRENT}`, {
        retryCount: 8,
      }),
    ).toBe('error');
    expect(kafkaLogLevel(logLevel.WARN, 'Connection', 'Response Fetch')).toBe('warn');
    expect(kafkaLogLevel(logLevel.INFO, 'Consumer', 'Starting')).toBe('info');
  });
});
