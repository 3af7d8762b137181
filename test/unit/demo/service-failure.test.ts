/**
 * The demo runs every service in one process. A consumer kafkajs crashes for good (`failService`,
 * which ends a standalone service with exit 1) used to leave the demo waiting for a pipeline that
 * no longer moved; a stage or model failing for good (`onFatal`) was not even reported. The demo
 * now ends with an error naming the failure, having stopped its services; the stack stays up.
 *
 * runDemo here runs with its servers, services, simulation and lag probe stubbed: the failure
 * comes while it waits for the pipeline to drain, which never happens.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { failService } from '../../../shared/kafka/consumer-runner.ts';

const stubs = vi.hoisted(() => ({
  calls: [] as string[],
  waitForDrain: undefined as undefined | (() => Promise<boolean>),
  demoContext: undefined as
    | undefined
    | {
        supervisor?: {
          onFatal(service: string): (error: Error) => void;
          add(stop: () => Promise<void>): void;
          stopAll(): Promise<void>;
        };
      },
}));

vi.mock('node:fs/promises', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:fs/promises')>()),
  mkdir: vi.fn(async () => undefined),
}));
vi.mock('../../../shared/config/env.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../../shared/config/env.ts')>()),
  // Servers "in the environment": no local stack is started (nor stopped).
  serversFromEnv: () => ({ kafkaBrokers: ['127.0.0.1:1'], elasticsearchUrl: 'http://127.0.0.1:1' }),
}));
vi.mock('../../../shared/observability/logger.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../shared/observability/logger.ts')>();
  return { ...original, createLogger: (service: string) => original.createLogger(service, 'silent') };
});
vi.mock('../../../shared/kafka/client.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../../shared/kafka/client.ts')>()),
  connectProducer: async () => ({
    disconnect: async () => {
      stubs.calls.push('producer disconnected');
    },
  }),
}));
vi.mock('../../../shared/kafka/topics-admin.ts', () => ({ applyTopics: async () => [] }));
vi.mock('../../../services/indexer/service.ts', () => ({ applyElasticsearch: async () => [] }));
vi.mock('../../../services/demo/services.ts', () => ({
  // Like the real one: each service registers its stop with the supervisor as it starts.
  startDemoServices: async (context: typeof stubs.demoContext) => {
    stubs.demoContext = context;
    const stop = async () => {
      stubs.calls.push('services stopped');
    };
    context?.supervisor?.add(stop);
    return {
      ingestUrl: 'http://127.0.0.1:1',
      ingestApiKey: 'demo-key',
      inboxUrl: 'http://127.0.0.1:1/',
      consumerGroups: [],
      transactionalPartitions: 0,
      stop: () => context?.supervisor?.stopAll() ?? stop(),
    };
  },
}));
vi.mock('../../../services/demo/alert-feed.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../../services/demo/alert-feed.ts')>()),
  followAlerts: async () => ({
    alerts: [],
    stop: async () => {
      stubs.calls.push('feed stopped');
    },
  }),
}));
vi.mock('../../../services/simulator/simulate.ts', () => ({
  runSimulation: async () => ({
    uploads: 10,
    interactions: 20,
    rejected: 0,
    truth: { trends: [], decoys: [], photos: [] },
  }),
}));
vi.mock('../../../services/demo/lag.ts', () => ({
  waitForDrain: () => stubs.waitForDrain!(),
}));
vi.mock('../../../services/demo/collect.ts', () => ({ collectTopic: async () => [] }));

const { runDemo } = await import('../../../services/demo/run-demo.ts');
const { DemoServiceFailed } = await import('../../../services/demo/supervisor.ts');

const options = {
  catalogueDir: '/nonexistent/catalogue',
  days: 1,
  uploadsPerDay: 10,
  members: 10,
  seed: 1,
  trendBaselinePerHour: 3,
  keepRunning: false,
};

/** runDemo's outcome, or "still running" after `ms`. */
async function outcome(ms = 5_000): Promise<unknown> {
  return Promise.race([
    runDemo(options).then(
      (report) => ({ report }),
      (error: unknown) => error,
    ),
    new Promise((resolve) => setTimeout(() => resolve('still running'), ms)),
  ]);
}

let stdout: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  stubs.calls = [];
  stubs.demoContext = undefined;
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterEach(() => {
  stdout.mockRestore();
});

describe('the demo when a service fails for good', () => {
  it('a consumer kafkajs will not restart: the demo stops its services and fails, naming it', async () => {
    // The pipeline never drains: a consumer crashed for good meanwhile.
    stubs.waitForDrain = () => {
      setTimeout(
        () => failService(Object.assign(new Error('The group is rebalancing'), { name: 'KafkaJSError' })),
        20,
      );
      return new Promise<boolean>(() => {});
    };
    const error = await outcome();
    expect(error).toBeInstanceOf(DemoServiceFailed);
    expect((error as Error).message).toMatch(
      /^the demo stopped: a service failed for good \(a consumer kafkajs crashed and will not restart: KafkaJSError: The group is rebalancing\); the other services were stopped; service logs in \S+logs$/,
    );
    expect(stubs.calls).toEqual([
      'producer disconnected',
      'producer disconnected',
      'feed stopped',
      'services stopped',
    ]);
    const printed = (stdout.mock.calls as unknown[][]).map((call) => String(call[0])).join('');
    expect(printed).toContain('✘ a service failed for good: stopping the services');
  });

  it('a service that reports its own failure (onFatal) is named', async () => {
    stubs.waitForDrain = () => {
      setTimeout(() => stubs.demoContext?.supervisor?.onFatal('aggregator')(new Error('fenced')), 20);
      return new Promise<boolean>(() => {});
    };
    const error = await outcome();
    expect(error).toBeInstanceOf(DemoServiceFailed);
    expect((error as Error).message).toContain('the aggregator failed for good (Error: fenced)');
    expect(stubs.calls).toContain('services stopped');
  });

  it('without a failure the demo runs to its summary', async () => {
    stubs.waitForDrain = async () => true;
    const result = (await outcome()) as { report?: { uploads: number } };
    expect(result.report?.uploads).toBe(10);
    expect(stubs.calls).toEqual(['producer disconnected', 'feed stopped', 'services stopped']);
  });
});
