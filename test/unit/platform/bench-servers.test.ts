import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchServersError, benchServers } from '../../bench/lib/servers.ts';

const HINT =
  '  benchmarks start no servers: start a stack (`npx trend-radar stack up`) and set KAFKA_BROKERS/ELASTICSEARCH_URL as it prints';

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const { server, port } = await listen();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the servers of a benchmark', () => {
  let broker: { server: Server; port: number };
  beforeAll(async () => {
    broker = await listen();
  });
  afterAll(async () => {
    await new Promise((resolve) => broker.server.close(resolve));
  });

  it('fails at once, saying to start a stack, when no broker answers', async () => {
    const port = await closedPort();
    const started = Date.now();
    const error = await benchServers({ env: { KAFKA_BROKERS: `127.0.0.1:${port}` } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BenchServersError);
    expect((error as Error).message).toBe(
      `cannot reach the Kafka brokers KAFKA_BROKERS=127.0.0.1:${port} (127.0.0.1:${port}: ECONNREFUSED)\n${HINT}`,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('reads KAFKA_BROKERS as the services do: validated, blank = the default', async () => {
    const bad = await benchServers({ env: { KAFKA_BROKERS: 'localhost' } }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BenchServersError);
    expect((bad as Error).message).toMatch(
      /^invalid configuration:\n {2}KAFKA_BROKERS="localhost": every broker must be host:port/,
    );
    expect((bad as Error).message.endsWith(HINT)).toBe(true);
    const servers = await benchServers({
      env: { KAFKA_BROKERS: ` 127.0.0.1:${broker.port} `, ELASTICSEARCH_URL: ' ' },
    });
    expect(servers).toEqual({
      kafkaBrokers: [`127.0.0.1:${broker.port}`],
      elasticsearchUrl: 'http://127.0.0.1:9200',
    });
  });

  it('checks Elasticsearch only for the benchmarks that need it', async () => {
    const port = await closedPort();
    const env = { KAFKA_BROKERS: `127.0.0.1:${broker.port}`, ELASTICSEARCH_URL: `http://127.0.0.1:${port}` };
    await expect(benchServers({ env })).resolves.toMatchObject({ elasticsearchUrl: env.ELASTICSEARCH_URL });
    const error = await benchServers({ env, elasticsearch: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BenchServersError);
    expect((error as Error).message).toBe(
      `cannot reach Elasticsearch at ELASTICSEARCH_URL=http://127.0.0.1:${port} (ECONNREFUSED)\n${HINT}`,
    );
  });
});
