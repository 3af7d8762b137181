/**
 * Every service binds its metrics/health port before any Kafka or Elasticsearch work: a busy port
 * fails the `run` command at once, naming the setting, instead of after a consumer group join (a
 * rebalance for the other members) or a model load. The "broker" and "Elasticsearch" here are
 * plain TCP listeners that count connections and never answer: the service must not even connect.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = new URL('../../../shared/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'port-first-'));

interface Listener {
  server: Server;
  port: number;
  connections: number;
}

async function listen(): Promise<Listener> {
  const listener: Listener = { server: createServer(), port: 0, connections: 0 };
  listener.server.on('connection', () => {
    listener.connections++;
  });
  await new Promise<void>((resolve) => listener.server.listen(0, '127.0.0.1', resolve));
  listener.port = (listener.server.address() as { port: number }).port;
  return listener;
}

let broker: Listener;
let elasticsearch: Listener;
/** Holds the port the service is told to serve on. */
let squatter: Listener;

beforeAll(async () => {
  [broker, elasticsearch, squatter] = await Promise.all([listen(), listen(), listen()]);
});

afterAll(async () => {
  for (const { server } of [broker, elasticsearch, squatter]) {
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Runs `trend-radar <service> run`; its exit code and output, or null if it was still running after `ms`. */
function run(
  args: string[],
  env: Record<string, string>,
  ms = 30_000,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
    env: {
      ...process.env,
      KAFKA_BROKERS: `127.0.0.1:${broker.port}`,
      ELASTICSEARCH_URL: `http://127.0.0.1:${elasticsearch.port}`,
      TOPIC_NAMESPACE: 'port-first',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, output });
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('a busy metrics or inbox port fails the service before any Kafka work', () => {
  const feed = join(dir, 'catalogue.json');
  writeFileSync(feed, '[]');
  const buyers = join(dir, 'buyers.json');
  writeFileSync(
    buyers,
    JSON.stringify({ buyers: [{ id: 'anna', name: 'Anna', follows: { categories: ['Shoes'] } }] }),
  );

  const cases: Array<[string, string[], (port: number) => Record<string, string>, RegExp]> = [
    ['embedder', ['embedder', 'run'], (port) => ({ METRICS_PORT: String(port) }), /METRICS_PORT/],
    ['indexer', ['indexer', 'run'], (port) => ({ METRICS_PORT: String(port) }), /METRICS_PORT/],
    ['aggregator', ['aggregator', 'run'], (port) => ({ METRICS_PORT: String(port) }), /METRICS_PORT/],
    [
      'catalogue',
      ['catalogue', 'run'],
      (port) => ({ METRICS_PORT: String(port), CATALOGUE_FEED: feed }),
      /METRICS_PORT/,
    ],
    [
      'notifier',
      ['notifier', 'run'],
      (port) => ({ NOTIFIER_PORT: String(port), NOTIFIER_SUBSCRIPTIONS_FILE: buyers }),
      /NOTIFIER_PORT/,
    ],
  ];

  it.each(cases)('%s', async (_name, args, env, setting) => {
    const before = { broker: broker.connections, elasticsearch: elasticsearch.connections };
    const { code, output } = await run(args, env(squatter.port));
    expect(code, output).toBe(1);
    expect(output).toMatch(setting);
    expect(output).toContain(`127.0.0.1:${squatter.port}`);
    expect(output).toMatch(/in use/);
    expect(broker.connections - before.broker, 'connections to the broker').toBe(0);
    expect(elasticsearch.connections - before.elasticsearch, 'connections to Elasticsearch').toBe(0);
  });
});
