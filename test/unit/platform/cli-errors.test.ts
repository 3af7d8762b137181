import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { Client } from '@elastic/elasticsearch';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBrokersReachable, endpointsFromEnv, explainError } from '../../../shared/cli/errors.ts';
import { describeTopicChange, parseReplicationFactor } from '../../../shared/cli/platform-commands.ts';
import { ConfigError } from '../../../shared/config/env.ts';

const {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} = kafkajs;
// Exported at run time, missing from kafkajs' types.
const { KafkaJSCreateTopicError } = kafkajs as unknown as {
  KafkaJSCreateTopicError: new (e: { message: string; type: string; code: number }, topic: string) => Error;
};

const endpoints = { kafkaBrokers: '127.0.0.1:9092', elasticsearchUrl: 'http://127.0.0.1:9200' };
const LOCAL = 'for a local stack, run `trend-radar stack up` and use the settings it prints';

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('explainError: Kafka', () => {
  it('names the broker list and the setting when no broker answers', () => {
    const cause = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', {
      broker: '127.0.0.1:9092',
      code: 'ECONNREFUSED',
    });
    const error = new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 8, retryTime: 10_000 });
    expect(explainError(error, endpoints)).toBe(
      'cannot reach the Kafka brokers KAFKA_BROKERS=127.0.0.1:9092 (Connection error: connect ECONNREFUSED 127.0.0.1:9092)\n' +
        `  check KAFKA_BROKERS; ${LOCAL}`,
    );
    expect(explainError(new Error('Broker not connected'), endpoints)).toMatch(
      /^cannot reach the Kafka brokers KAFKA_BROKERS=127\.0\.0\.1:9092 \(Broker not connected\)/,
    );
  });

  it('says how to create the topics when a topic does not exist, also after kafkajs gave up retrying', () => {
    const unknown = new KafkaJSProtocolError('This server does not host this topic-partition');
    Object.assign(unknown, { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3 });
    const hint =
      '  a topic does not exist on the broker: create the topics of the namespace with ' +
      '`TOPIC_NAMESPACE=fresh trend-radar topics apply`';
    const withNamespace = { ...endpoints, topicNamespace: 'fresh' };
    expect(explainError(unknown, withNamespace)).toBe(
      `This server does not host this topic-partition (UNKNOWN_TOPIC_OR_PARTITION)\n${hint}`,
    );
    const exhausted = new KafkaJSNumberOfRetriesExceeded(unknown, { retryCount: 8, retryTime: 10_000 });
    expect(explainError(exhausted, withNamespace)).toBe(
      `This server does not host this topic-partition (UNKNOWN_TOPIC_OR_PARTITION)\n${hint}`,
    );
    expect(explainError(exhausted, endpoints)).toMatch(
      /`TOPIC_NAMESPACE=<namespace> trend-radar topics apply`$/,
    );
  });

  it('prints the per-topic causes kafkajs keeps in sub-errors', () => {
    const invalid = (topic: string) =>
      new KafkaJSCreateTopicError(
        { message: 'Replication-factor is invalid', type: 'INVALID_REPLICATION_FACTOR', code: 38 },
        topic,
      );
    const error = new KafkaJSAggregateError(
      'Topic creation errors',
      ['a.uploads.v1', 'a.mentions.v1', 'a.inventory.v1', 'a.signals-by-sku.v1'].map(invalid),
    );
    expect(explainError(error, endpoints)).toBe(
      'Topic creation errors: INVALID_REPLICATION_FACTOR (Replication-factor is invalid) on 4 topics: ' +
        'a.uploads.v1, a.mentions.v1, a.inventory.v1, …\n' +
        '  the replication factor is more than the brokers in the cluster: lower --replication-factor',
    );
  });
});

describe('explainError: Elasticsearch', () => {
  const servers: Server[] = [];
  const urls: Record<string, string> = {};
  const serve = async (name: string, handler: Parameters<typeof createServer>[1]) => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    urls[name] = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  };
  beforeAll(async () => {
    await serve('html', (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end(
        '<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>Not Found</body></html>',
      );
    });
    await serve('empty', (_req, res) => {
      res.writeHead(404);
      res.end();
    });
    await serve('json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  afterAll(() => {
    for (const server of servers) server.close();
  });

  const failure = async (url: string) => {
    // As the CLI's client (shared/elasticsearch/client.ts), without its retries.
    const client = new Client({ node: url, maxRetries: 0 });
    try {
      await client.search({ index: 'x' });
      throw new Error('expected the search to fail');
    } catch (error) {
      return explainError(error, { ...endpoints, elasticsearchUrl: url });
    } finally {
      await client.close();
    }
  };

  it('names the status and that an HTML page is not an Elasticsearch answer, without the HTML', async () => {
    expect(await failure(urls.html!)).toBe(
      `the server at ${urls.html} answered HTTP 404 with an HTML page ("Welcome to nginx!"), not an Elasticsearch answer\n` +
        `  check ELASTICSEARCH_URL=${urls.html} names an Elasticsearch node; ${LOCAL}`,
    );
  });

  it('does not print an empty message for an empty 404', async () => {
    expect(await failure(urls.empty!)).toMatch(
      /answered HTTP 404 with an empty body, not an Elasticsearch answer/,
    );
  });

  it('says when a server answers but is not Elasticsearch', async () => {
    expect(await failure(urls.json!)).toBe(
      `the server at ${urls.json} answered, but it is not Elasticsearch\n` +
        `  check ELASTICSEARCH_URL=${urls.json}; ${LOCAL}`,
    );
  });

  it('names the URL and the setting when nothing listens', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    expect(await failure(url)).toMatch(
      new RegExp(
        `^cannot reach Elasticsearch at ${url} \\(connect ECONNREFUSED .*\\)\\n  check ELASTICSEARCH_URL; `,
      ),
    );
  });
});

describe('explainError: everything else', () => {
  it('keeps configuration errors and plain messages as they are', () => {
    const config = new ConfigError('invalid configuration:\n  KAFKA_BROKERS="x": …');
    expect(explainError(config, endpoints)).toBe(config.message);
    expect(explainError(new Error('give exactly one of --to or --to-namespace'), endpoints)).toBe(
      'give exactly one of --to or --to-namespace',
    );
  });

  it('never prints an empty message', () => {
    expect(explainError(new Error(''), endpoints)).toBe('Error without a message');
    expect(explainError('', endpoints)).toBe('an error without a message');
  });

  it('reads the endpoints as the settings do (blank = default)', () => {
    expect(endpointsFromEnv({ KAFKA_BROKERS: ' ', ELASTICSEARCH_URL: 'http://es:9200' })).toEqual({
      kafkaBrokers: '127.0.0.1:9092',
      elasticsearchUrl: 'http://es:9200',
      topicNamespace: 'trendradar',
    });
    expect(endpointsFromEnv({ TOPIC_NAMESPACE: ' fresh ' }).topicNamespace).toBe('fresh');
  });
});

describe('assertBrokersReachable', () => {
  it('fails at once, naming the brokers, when none accepts a connection', async () => {
    const port = await closedPort();
    const started = Date.now();
    await expect(assertBrokersReachable([`127.0.0.1:${port}`])).rejects.toThrow(
      `cannot reach the Kafka brokers KAFKA_BROKERS=127.0.0.1:${port} (127.0.0.1:${port}: ECONNREFUSED)\n  check KAFKA_BROKERS; ${LOCAL}`,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('passes when one broker accepts', async () => {
    const server = createTcpServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const { port } = server.address() as { port: number };
    await expect(
      assertBrokersReachable([`127.0.0.1:${await closedPort()}`, `127.0.0.1:${port}`]),
    ).resolves.toBeUndefined();
    server.close();
  });
});

describe('topics apply: flags and output', () => {
  it('validates --replication-factor', () => {
    expect(parseReplicationFactor('3')).toBe(3);
    for (const bad of ['abc', '0', '-1', '1.5', '', '40000'])
      expect(() => parseReplicationFactor(bad), bad).toThrow(/must be a whole number of replicas/);
  });

  it('says "would create" on a dry run', () => {
    const change = { topic: 'trendradar.uploads.v1', action: 'created' as const };
    expect(describeTopicChange(change, true)).toBe('would create          trendradar.uploads.v1');
    expect(describeTopicChange(change, false)).toBe('created               trendradar.uploads.v1');
    expect(describeTopicChange({ topic: 't', action: 'partitions-increased', detail: '3 → 6' }, true)).toBe(
      'would add partitions  t  (3 → 6)',
    );
  });
});
