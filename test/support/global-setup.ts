/**
 * Integration tests run against real servers, found in this order:
 *  1. KAFKA_BROKERS and ELASTICSEARCH_URL from the environment (an existing cluster);
 *  2. testcontainers, when a Docker engine answers;
 *  3. the local stack of processes (`trend-radar stack up`), started once for the run and stopped
 *     after it — unless it was already running, in which case it is left as found.
 */
import type { TestProject } from 'vitest/node';
import { LocalStack, stackOptionsFromEnv } from '../../shared/stack/local-stack.ts';
import { dockerAnswers, startContainers } from './containers.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[integration] ${line}\n`);
  const provide = (kafkaBrokers: string[], elasticsearchUrl: string, origin: string) => {
    log(`Kafka ${kafkaBrokers.join(',')} and Elasticsearch ${elasticsearchUrl} (${origin})`);
    project.provide('kafkaBrokers', kafkaBrokers);
    project.provide('elasticsearchUrl', elasticsearchUrl);
  };

  if (process.env.KAFKA_BROKERS && process.env.ELASTICSEARCH_URL) {
    provide(process.env.KAFKA_BROKERS.split(','), process.env.ELASTICSEARCH_URL, 'from the environment');
    return async () => {};
  }
  if (await dockerAnswers()) {
    const containers = await startContainers();
    provide([containers.kafkaBrokers], containers.elasticsearchUrl, 'testcontainers');
    return containers.stop;
  }
  const stack = new LocalStack(stackOptionsFromEnv(process.env, log));
  const started = await stack.up();
  provide(
    [stack.kafkaBrokers],
    stack.elasticsearchUrl,
    started.length ? `local stack, started ${started.join(' and ')}` : 'local stack, already running',
  );
  return async () => {
    if (started.length > 0) await stack.down(started);
  };
}
