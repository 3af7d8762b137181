/**
 * How a transaction's outputs are packed into produce requests (pure part of the stage): every
 * message exactly once, each topic's messages in their order, no request over the size limit
 * unless a single message is, and as few requests as fit.
 */
import type { Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { produceRequestsOf } from '../../../services/aggregator/alignment.ts';

/** A message of `bytes` bytes as the packer counts it (key + value + 64 of overhead). */
const message = (id: string, bytes: number): Message => ({
  key: id,
  value: 'x'.repeat(bytes - 64 - id.length),
});
const flat = (requests: ReturnType<typeof produceRequestsOf>) =>
  requests.flatMap((request) =>
    request.flatMap(({ topic, messages }) => messages.map((m) => `${topic}:${m.key}`)),
  );
const sizeOf = (request: ReturnType<typeof produceRequestsOf>[number]) =>
  request.reduce(
    (sum, { messages }) =>
      sum + messages.reduce((s, m) => s + String(m.key).length + String(m.value).length + 64, 0),
    0,
  );

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
      expect(sizeOf(requests[i - 1]!) + sizeOf(requests[i]!)).toBeGreaterThan(1_000);
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
});
