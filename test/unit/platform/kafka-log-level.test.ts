import { type LogEntry, logLevel } from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { kafkaLogEntryWriter, kafkaLogLevel } from '../../../shared/kafka/client.ts';

const CONCURRENT =
  'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

describe('kafkajs log levels', () => {
  it("writes a broker's answer with an error kafkajs retries at debug: CONCURRENT_TRANSACTIONS, a leader moving", () => {
    // As kafkajs' Connection logs it (the aggregator's transactional producer, between two transactions).
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Connection', 'Response AddPartitionsToTxn(key: 24, version: 1)', {
        broker: '127.0.0.1:9092',
        clientId: 'trend-radar-aggregator',
        error: CONCURRENT,
        correlationId: 57,
        size: 185,
      }),
    ).toBe('debug');
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Connection', 'Response Produce(key: 0, version: 7)', {
        error: 'This server is not the leader for that topic-partition',
      }),
    ).toBe('debug');
  });

  it("writes a broker's other error answers as warnings: the caller retries it or reports it itself", () => {
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection', 'Response AddOffsetsToTxn(key: 25, version: 1)')).toBe(
      'warn',
    );
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Connection', 'Response Heartbeat(key: 12, version: 3)', {
        error: 'The group is rebalancing, so a rejoin is needed',
      }),
    ).toBe('warn');
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Connection', 'Response EndTxn(key: 26, version: 1)', {
        error:
          "Producer attempted an operation with an old epoch. Either there is a newer producer with the same transactionalId, or the producer's transaction has been expired by the broker",
      }),
    ).toBe('warn');
  });

  it("writes the producer's retried sends at debug (CONCURRENT_TRANSACTIONS, a leader moving)", () => {
    const retry = { retryCount: 0, retryTime: 312 };
    expect(kafkaLogLevel(logLevel.ERROR, 'Producer', `Failed to send messages: ${CONCURRENT}`, retry)).toBe(
      'debug',
    );
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Producer',
        'Failed to send messages: This server is not the leader for that topic-partition',
        { retryCount: 3, retryTime: 2_000 },
      ),
    ).toBe('debug');
    // The same pattern from another retry loop (a broker pool, an admin request).
    expect(kafkaLogLevel(logLevel.ERROR, 'BrokerPool', CONCURRENT, retry)).toBe('debug');
  });

  it("writes the idempotent producer's notice about bounded retries at debug, other warnings as warnings", () => {
    expect(
      kafkaLogLevel(
        logLevel.WARN,
        'Producer',
        'Limiting retries for the idempotent producer may invalidate EoS guarantees',
      ),
    ).toBe('debug');
    expect(
      kafkaLogLevel(logLevel.WARN, 'Consumer', 'The group is rebalancing, re-joining', { groupId: 'g' }),
    ).toBe('warn');
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

  it('writes kafkajs entries through pino at those levels (entries as kafkajs 2.2.4 hands them over)', () => {
    const lines: Array<{ level: number; msg: string; kafka?: string; error?: string; retryCount?: number }> =
      [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const write = kafkaLogEntryWriter(logger);
    const entry = (
      namespace: string,
      level: logLevel,
      log: { message: string; [field: string]: unknown },
    ): LogEntry =>
      ({
        namespace,
        level,
        label: logLevel[level],
        log: { timestamp: '2026-01-01T00:00:00.000Z', logger: 'kafkajs', ...log },
      }) as LogEntry;
    // Captured from an aggregator-like transactional producer against the real broker.
    write(
      entry('Connection', logLevel.ERROR, {
        message: 'Response AddPartitionsToTxn(key: 24, version: 1)',
        broker: '127.0.0.1:39092',
        clientId: 'trend-radar-aggregator',
        error: CONCURRENT,
        correlationId: 57,
        size: 185,
      }),
    );
    write(
      entry('Producer', logLevel.ERROR, {
        message: `Failed to send messages: ${CONCURRENT}`,
        retryCount: 0,
        retryTime: 173,
      }),
    );
    write(
      entry('Producer', logLevel.WARN, {
        message: 'Limiting retries for the idempotent producer may invalidate EoS guarantees',
      }),
    );
    // A real failure: not retriable, kafkajs gives up.
    write(
      entry('Producer', logLevel.ERROR, {
        message: 'The producer attempted a transactional operation in an invalid state',
        retryCount: 0,
        retryTime: 250,
      }),
    );
    write(entry('Consumer', logLevel.ERROR, { message: 'Crash: KafkaJSNumberOfRetriesExceeded: boom' }));
    expect(lines.map((l) => [l.level, l.kafka, l.msg])).toEqual([
      [20, 'Connection', 'Response AddPartitionsToTxn(key: 24, version: 1)'],
      [20, 'Producer', `Failed to send messages: ${CONCURRENT}`],
      [20, 'Producer', 'Limiting retries for the idempotent producer may invalidate EoS guarantees'],
      [50, 'Producer', 'The producer attempted a transactional operation in an invalid state'],
      [50, 'Consumer', 'Crash: KafkaJSNumberOfRetriesExceeded: boom'],
    ]);
    // The entry's fields stay on the line.
    expect(lines[0]!.error).toBe(CONCURRENT);
    expect(lines[1]!.retryCount).toBe(0);
  });
});
