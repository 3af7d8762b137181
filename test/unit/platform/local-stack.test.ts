import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bindProblem,
  busyPortMessage,
  componentPorts,
  reachableByOthers,
  stackOptionsFromEnv,
  startupCause,
  summariseServerLog,
} from '../../../shared/stack/local-stack.ts';

describe('reachableByOthers: can Elasticsearch’s service user reach the stack home?', () => {
  const cleanup: string[] = [];
  afterAll(async () => {
    for (const dir of cleanup) {
      await chmod(dir, 0o755).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is true when every folder on the way may be traversed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tr-stack-'));
    cleanup.push(root);
    await chmod(root, 0o755);
    const home = join(root, 'cache', 'trend-radar');
    await mkdir(home, { recursive: true, mode: 0o755 });
    expect(reachableByOthers(home)).toBe(true);
  });

  it('is false when one ancestor is private, as /root is', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tr-stack-'));
    cleanup.push(root);
    const home = join(root, 'cache', 'trend-radar');
    await mkdir(home, { recursive: true, mode: 0o755 });
    await chmod(root, 0o700);
    expect(reachableByOthers(home)).toBe(false);
  });

  it('judges a home that does not exist yet by the folders that do', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tr-stack-'));
    cleanup.push(root);
    await chmod(root, 0o700);
    expect(reachableByOthers(join(root, 'not', 'yet'))).toBe(false);
  });
});

describe('summariseServerLog: why a server failed, in one line of the CI log', () => {
  it('counts ERROR lines and quotes the first that took the server down', () => {
    const log = [
      '[2026-11-25 01:14:52,208] ERROR [ControllerApis nodeId=1] Unexpected error handling request',
      '[2026-11-25 01:23:32,235] INFO something else',
      'Exception in thread "client-metrics-reaper" java.lang.OutOfMemoryError: Java heap space',
      '[2026-11-25 01:23:33,946] ERROR Uncaught exception in thread',
    ].join('\n');
    expect(summariseServerLog(log)).toBe(
      '2 ERROR lines; it failed: Exception in thread "client-metrics-reaper" java.lang.OutOfMemoryError: Java heap space',
    );
  });

  it('does not mistake a JVM flag that names the error for the error', () => {
    const log = '[INFO ][o.e.b.Elasticsearch] JVM arguments [-XX:+HeapDumpOnOutOfMemoryError, -Xss1m]';
    expect(summariseServerLog(log)).toBe('0 ERROR lines');
  });
});

describe('stackOptionsFromEnv: validated like every other setting', () => {
  it('treats blank values as unset instead of "the current folder" and port 0', () => {
    const options = stackOptionsFromEnv({
      TREND_RADAR_HOME: '',
      STACK_KAFKA_PORT: '',
      STACK_ELASTICSEARCH_PORT: '',
    });
    expect(options).toMatchObject({
      home: join(homedir(), '.cache', 'trend-radar'),
      kafkaPort: 9092,
      elasticsearchPort: 9200,
      kafkaHeap: '512m',
      elasticsearchHeap: '1g',
    });
  });

  it('names the variable of a bad port or a relative home', () => {
    expect(() => stackOptionsFromEnv({ STACK_KAFKA_PORT: 'abc' })).toThrow(/STACK_KAFKA_PORT="abc"/);
    expect(() => stackOptionsFromEnv({ TREND_RADAR_HOME: 'home' })).toThrow(
      /TREND_RADAR_HOME="home": must be an absolute path/,
    );
  });
});

describe('a port already in use', () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  it('is found before starting, with the setting that chose it', async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (server.address() as { port: number }).port;
    expect(await bindProblem(port)).toBe('EADDRINUSE');
    server.close();
    await new Promise((resolve) => server.once('close', resolve));
    expect(await bindProblem(port)).toBeUndefined();
  });

  it('names every port a component takes', () => {
    expect(componentPorts('kafka', { kafkaPort: 9092, elasticsearchPort: 9200 })).toEqual([
      { port: 9092, setting: 'STACK_KAFKA_PORT' },
      { port: 9093, setting: 'STACK_KAFKA_PORT + 1, the KRaft controller' },
    ]);
    expect(componentPorts('elasticsearch', { kafkaPort: 9092, elasticsearchPort: 9200 })[1]).toEqual({
      port: 9300,
      setting: 'STACK_ELASTICSEARCH_PORT + 100, the transport',
    });
  });

  it('says which port, which setting, and what to do', () => {
    expect(busyPortMessage('kafka', 9092, 'STACK_KAFKA_PORT', 'EADDRINUSE')).toBe(
      'kafka: port 9092 on 127.0.0.1 (STACK_KAFKA_PORT) is in use by another program, not a Kafka broker: ' +
        'stop it, or choose free ports with STACK_KAFKA_PORT',
    );
    expect(busyPortMessage('elasticsearch', 9200, 'STACK_ELASTICSEARCH_PORT', 'EADDRINUSE', 4242)).toMatch(
      /held by the elasticsearch that `stack up` started earlier \(pid 4242\).*run `trend-radar stack down`/,
    );
    expect(busyPortMessage('kafka', 80, 'STACK_KAFKA_PORT', 'EACCES')).toBe(
      'kafka: cannot listen on 127.0.0.1:80 (STACK_KAFKA_PORT): EACCES; choose another port with STACK_KAFKA_PORT',
    );
  });
});

describe('startupCause: why a server exited while starting', () => {
  it("finds Kafka's bind failure among the shutdown noise", () => {
    const log = [
      '[2026-11-25 10:16:45,900] INFO Awaiting socket connections on 127.0.0.1:38593. (kafka.network.DataPlaneAcceptor)',
      '[2026-11-25 10:16:46,002] ERROR Unable to start acceptor for ListenerName(PLAINTEXT) (kafka.network.DataPlaneAcceptor)',
      'org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:38592: Address already in use.',
      '\tat kafka.network.Acceptor.openServerSocket(SocketServer.scala:751)',
      'Caused by: java.net.BindException: Address already in use',
      '[2026-11-25 10:16:46,010] ERROR [BrokerServer id=1] Fatal error during broker startup. Prepare to shutdown',
    ].join('\n');
    expect(startupCause(log)).toBe(
      'org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:38592: Address already in use.',
    );
  });

  it("finds Elasticsearch's", () => {
    const log = [
      '[2026-11-25T10:16:58,311][INFO ][o.e.b.Elasticsearch      ] [trend-radar-local-1] version[8.19.7]',
      '[2026-11-25T10:17:03,479][ERROR][o.e.b.Elasticsearch      ] [trend-radar-local-1] fatal exception while booting Elasticsearch org.elasticsearch.http.BindHttpException: Failed to bind to 127.0.0.1:38700',
      '\tat org.elasticsearch.server@8.19.7/org.elasticsearch.http.AbstractHttpServerTransport.bindAddress(AbstractHttpServerTransport.java:228)',
    ].join('\n');
    expect(startupCause(log)).toMatch(/BindHttpException: Failed to bind to 127\.0\.0\.1:38700$/);
  });

  it('falls back to the first ERROR line, or nothing', () => {
    expect(startupCause('INFO a\n[x] ERROR Invalid value for log.dirs\nERROR later')).toBe(
      '[x] ERROR Invalid value for log.dirs',
    );
    expect(startupCause('INFO starting\nINFO still starting')).toBeUndefined();
    expect(
      startupCause(
        '[INFO ][o.e.b.Elasticsearch] JVM arguments [-XX:+HeapDumpOnOutOfMemoryError]\n' +
          'Exception in thread "main" java.lang.IllegalStateException: no such file',
      ),
    ).toBe('Exception in thread "main" java.lang.IllegalStateException: no such file');
  });
});
