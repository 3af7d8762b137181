import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaLogLevel } from '../../../shared/kafka/client.ts';

describe('kafkajs log levels', () => {
  it("writes a broker's error answer as a warning: the caller retries it or reports it itself", () => {
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection', 'Response AddOffsetsToTxn(key: 25, version: 1)')).toBe(
      'warn',
    );
  });

  it('keeps every other error an error, and the other levels as they are', () => {
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection', 'Connection error: connect ECONNREFUSED')).toBe(
      'error',
    );
    expect(kafkaLogLevel(logLevel.ERROR, 'Consumer', 'Crash: KafkaJSNumberOfRetriesExceeded')).toBe('error');
    expect(kafkaLogLevel(logLevel.WARN, 'Connection', 'Response Fetch')).toBe('warn');
    expect(kafkaLogLevel(logLevel.INFO, 'Consumer', 'Starting')).toBe('info');
  });
});
