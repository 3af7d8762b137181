import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  ConsumerWatch,
  combinedHealth,
  produceRequests,
  STALLED_AFTER_MS,
} from '../../../shared/kafka/consumer-runner.ts';
import { CONSUMER_EVENTS as EVENTS } from '../../support/kafkajs-events.ts';

/** A consumer that only emits the instrumentation events a test tells it to. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const consumer = {
    events: EVENTS,
    on: (name: string, listener: (event: unknown) => void) => {
      emitter.on(name, listener);
      return () => emitter.off(name, listener);
    },
  } as unknown as Pick<Consumer, 'on' | 'events'>;
  const emit = (name: keyof typeof EVENTS, payload: Record<string, unknown> = {}) =>
    emitter.emit(EVENTS[name], { id: 0, type: EVENTS[name], timestamp: 0, payload });
  return { consumer, emit };
}

function watched(options: { stopping?: () => boolean } = {}) {
  const { consumer, emit } = fakeConsumer();
  let now = 1_000_000;
  const crashes: Array<[string, boolean]> = [];
  const watch = new ConsumerWatch(consumer, {
    now: () => now,
    isStopping: options.stopping ?? (() => false),
    onCrash: (error, restart) => crashes.push([error.message, restart]),
  });
  return { watch, emit, crashes, advance: (ms: number) => (now += ms) };
}

describe('ConsumerWatch', () => {
  it('is ready once the group is joined, and while the consumer fetches or heartbeats', () => {
    const { watch, emit, advance } = watched();
    expect(watch.health()).toEqual({ ready: false, reason: 'joining its group' });
    emit('GROUP_JOIN');
    expect(watch.health().ready).toBe(true);
    // Idle on an empty topic: each long poll is a fetch.
    for (let i = 0; i < 20; i++) {
      advance(5_000);
      emit('FETCH');
    }
    expect(watch.health().ready).toBe(true);
    // A long chunk: no fetch, but the runner heartbeats.
    for (let i = 0; i < 20; i++) {
      advance(3_000);
      emit('HEARTBEAT');
    }
    expect(watch.health().ready).toBe(true);
  });

  it('is not ready when it has neither fetched nor heartbeated for longer than the bound (broker unreachable)', () => {
    const { watch, emit, advance } = watched();
    emit('GROUP_JOIN');
    emit('REQUEST_TIMEOUT', { apiName: 'Fetch', broker: '127.0.0.1:9092' });
    advance(STALLED_AFTER_MS + 1_000);
    const health = watch.health();
    expect(health.ready).toBe(false);
    expect(health.reason).toMatch(/no fetch nor heartbeat for 31 s/);
    expect(health.reason).toMatch(/Fetch request to 127\.0\.0\.1:9092 timed out/);
    emit('HEARTBEAT');
    expect(watch.health().ready).toBe(true);
  });

  it('a crash kafkajs restarts from is not ready until the group is joined again', () => {
    const { watch, emit, crashes } = watched();
    emit('GROUP_JOIN');
    // kafkajs stops and disconnects the consumer before it reports the crash.
    emit('STOP');
    emit('DISCONNECT');
    emit('CRASH', { error: new Error('No broker available'), restart: true });
    expect(watch.health()).toEqual({
      ready: false,
      reason: 'crashed, kafkajs restarts it: Error: No broker available',
    });
    expect(crashes).toEqual([['No broker available', true]]);
    emit('GROUP_JOIN');
    expect(watch.health().ready).toBe(true);
  });

  it('a crash kafkajs does not restart from is reported, and stays not ready', () => {
    const { watch, emit, crashes, advance } = watched();
    emit('GROUP_JOIN');
    emit('STOP');
    emit('DISCONNECT');
    const error = Object.assign(new Error('Failed to find group coordinator'), {
      name: 'KafkaJSNonRetriableError',
    });
    emit('CRASH', { error, restart: false });
    expect(crashes).toEqual([['Failed to find group coordinator', false]]);
    advance(60_000);
    expect(watch.health()).toEqual({
      ready: false,
      reason: 'crashed for good: KafkaJSNonRetriableError: Failed to find group coordinator',
    });
  });

  it('a consumer stopped on purpose is not ready, and a crash while stopping is nobody’s failure', () => {
    let stopping = false;
    const { watch, emit, crashes } = watched({ stopping: () => stopping });
    emit('GROUP_JOIN');
    stopping = true;
    emit('CRASH', { error: new Error('connection closed'), restart: false });
    expect(crashes).toEqual([]);
    emit('GROUP_JOIN');
    emit('STOP');
    expect(watch.health()).toEqual({ ready: false, reason: 'stopped' });
  });
});

describe('combinedHealth', () => {
  it('is ready when every part is, and names the first part that is not', () => {
    expect(
      combinedHealth([
        ['a', { ready: true, reason: 'consuming' }],
        ['b', { ready: true, reason: 'consuming' }],
      ]),
    ).toEqual({ ready: true, reason: 'a: consuming; b: consuming' });
    expect(
      combinedHealth([
        ['a', { ready: true, reason: 'consuming' }],
        ['b', { ready: false, reason: 'stopped' }],
      ]),
    ).toEqual({ ready: false, reason: 'b: stopped' });
  });
});

describe('produceRequests', () => {
  it('cuts what a chunk produces into requests the broker accepts, keeping the order', () => {
    const big = (n: number) => ({ key: `k${n}`, value: Buffer.alloc(400_000, n) });
    const outputs: Array<[string, { key: string; value: Buffer }]> = [
      ['out', big(1)],
      ['dlq', big(2)],
      ['out', big(3)],
      ['out', { key: 'k4', value: Buffer.from('small') }],
    ];
    const requests = produceRequests(outputs);
    expect(requests).toHaveLength(2);
    expect([...requests[0]!].map(([topic, list]) => [topic, list.map((m) => m.key)])).toEqual([
      ['out', ['k1']],
      ['dlq', ['k2']],
    ]);
    expect([...requests[1]!].map(([topic, list]) => [topic, list.map((m) => m.key)])).toEqual([
      ['out', ['k3', 'k4']],
    ]);
    // One record larger than a request goes alone.
    expect(produceRequests([['out', { key: 'k', value: Buffer.alloc(2_000_000) }]])).toHaveLength(1);
  });
});
