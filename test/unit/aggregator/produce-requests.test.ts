/**
 * How a transaction's outputs are packed into produce requests (pure part of the stage): every
 * message exactly once, each topic's messages in their order, no request over the size limit
 * unless a single message is, and as few requests as fit. Sizes are the one wire measure of
 * shared/kafka/record-size.ts (headers included, a batch's overhead per topic in a request).
 */
import type { Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { produceRequestsOf } from '../../../services/aggregator/alignment.ts';
import {
  encodedRecordSize,
  MAX_PRODUCE_REQUEST_BYTES,
  RECORD_BATCH_OVERHEAD,
} from '../../../shared/kafka/record-size.ts';

/** A message of `bytes` encoded bytes (the shared measure). */
const message = (id: string, bytes: number): Message => {
  const bare = encodedRecordSize({ key: id, value: '' });
  return { key: id, value: 'x'.repeat(bytes - bare) };
};
const flat = (requests: ReturnType<typeof produceRequestsOf>) =>
  requests.flatMap((request) =>
    request.flatMap(({ topic, messages }) => messages.map((m) => `${topic}:${m.key}`)),
  );
/** Encoded bytes of a request: one record batch per topic in it. */
const sizeOf = (request: ReturnType<typeof produceRequestsOf>[number]) =>
  request.reduce(
    (sum, { messages }) =>
      sum + RECORD_BATCH_OVERHEAD + messages.reduce((s, m) => s + encodedRecordSize(m), 0),
    0,
  );
/** Encoded bytes of two neighbouring requests sent as one (a topic in both is then one batch). */
const mergedSizeOf = (
  a: ReturnType<typeof produceRequestsOf>[number],
  b: ReturnType<typeof produceRequestsOf>[number],
) => {
  const shared = a.filter(({ topic }) => b.some((other) => other.topic === topic)).length;
  return sizeOf(a) + sizeOf(b) - shared * RECORD_BATCH_OVERHEAD;
};

describe('produce requests of a transaction', () => {
  it('puts several topics in one request when they fit', () => {
    const messages = new Map([
      ['windows', [message('w1', 100), message('w2', 100)]],
      ['alerts', [message('a1', 100)]],
      ['changelog', [message('c1', 100)]],
    ]);
    const requests = produceRequestsOf(messages, 1_000);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.map((r) => r.topic)).toEqual(['windows', 'alerts', 'changelog']);
    expect(flat(requests)).toEqual(['windows:w1', 'windows:w2', 'alerts:a1', 'changelog:c1']);
  });

  it('splits at the limit, keeping every message once and in order, a topic across requests if need be', () => {
    const windows = Array.from({ length: 25 }, (_, i) => message(`w${i}`, 150));
    const changelog = Array.from({ length: 7 }, (_, i) => message(`c${i}`, 300));
    const requests = produceRequestsOf(
      new Map([
        ['windows', windows],
        ['changelog', changelog],
      ]),
      1_000,
    );
    expect(flat(requests)).toEqual([
      ...windows.map((m) => `windows:${m.key}`),
      ...changelog.map((m) => `changelog:${m.key}`),
    ]);
    for (const request of requests) expect(sizeOf(request)).toBeLessThanOrEqual(1_000);
    // As few as fit: no two neighbours could have been one request.
    for (let i = 1; i < requests.length; i++)
      expect(mergedSizeOf(requests[i - 1]!, requests[i]!)).toBeGreaterThan(1_000);
    expect(requests.length).toBeLessThanOrEqual(Math.ceil((25 * 150 + 7 * 300) / 1_000) + 1);
  });

  it('sends a message bigger than the limit alone', () => {
    const requests = produceRequestsOf(
      new Map([
        ['a', [message('small', 100)]],
        ['changelog', [message('huge', 5_000)]],
        ['b', [message('after', 100)]],
      ]),
      1_000,
    );
    expect(requests.map((r) => flat([r]))).toEqual([['a:small'], ['changelog:huge'], ['b:after']]);
  });

  it('makes no request for nothing', () => {
    expect(produceRequestsOf(new Map(), 1_000)).toEqual([]);
    expect(produceRequestsOf(new Map([['windows', []]]), 1_000)).toEqual([]);
  });

  it('counts headers and record batches as the broker does: no request over the limit', () => {
    // Small keys and values, large headers (a changelog part's, a progress record's): the request
    // is what the broker measures, headers included.
    const withHeaders = (id: string): Message => ({
      key: id,
      value: 'v',
      headers: { 'trace.context': 'h'.repeat(150), 'changelog.parts': '3' },
    });
    const requests = produceRequestsOf(
      new Map([
        ['changelog', Array.from({ length: 12 }, (_, i) => withHeaders(`c${i}`))],
        ['windows', Array.from({ length: 12 }, (_, i) => withHeaders(`w${i}`))],
      ]),
      1_000,
    );
    expect(flat(requests)).toHaveLength(24);
    for (const request of requests) expect(sizeOf(request)).toBeLessThanOrEqual(1_000);
  });

  it('cuts at the shared produce-request limit by default', () => {
    const big = (id: string) => message(id, Math.ceil(MAX_PRODUCE_REQUEST_BYTES / 2));
    const requests = produceRequestsOf(new Map([['changelog', [big('a'), big('b'), big('c')]]]));
    expect(requests.map((r) => flat([r]))).toEqual([['changelog:a'], ['changelog:b'], ['changelog:c']]);
  });
});
