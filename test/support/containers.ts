/** The testcontainers path, for machines with a Docker engine (not these build machines). */
import { createServer } from 'node:net';
import { GenericContainer, getContainerRuntimeClient, type StartedTestContainer, Wait } from 'testcontainers';
import { ELASTICSEARCH_VERSION, KAFKA_VERSION } from '../../shared/stack/versions.ts';

export async function dockerAnswers(): Promise<boolean> {
  try {
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5_000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

/** A free host port, so the broker can advertise the address clients will really use. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export async function startContainers(): Promise<{
  kafkaBrokers: string;
  elasticsearchUrl: string;
  stop: () => Promise<void>;
}> {
  const kafkaPort = await freePort();
  const [kafka, elasticsearch] = await Promise.all([
    new GenericContainer(`apache/kafka:${KAFKA_VERSION}`)
      .withExposedPorts({ container: 9092, host: kafkaPort })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start(),
    new GenericContainer(`docker.elastic.co/elasticsearch/elasticsearch:${ELASTICSEARCH_VERSION}`)
      .withExposedPorts(9200)
      .withEnvironment({
        'discovery.type': 'single-node',
        'xpack.security.enabled': 'false',
        ES_JAVA_OPTS: '-Xms1g -Xmx1g',
      })
      .withWaitStrategy(Wait.forHttp('/_cluster/health', 9200).forStatusCode(200))
      .withStartupTimeout(180_000)
      .start(),
  ]);
  const url = `http://${elasticsearch.getHost()}:${elasticsearch.getMappedPort(9200)}`;
  return {
    kafkaBrokers: `127.0.0.1:${kafkaPort}`,
    elasticsearchUrl: url,
    stop: async () => {
      await Promise.all([kafka, elasticsearch].map((c: StartedTestContainer) => c.stop()));
    },
  };
}
