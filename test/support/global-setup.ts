/**
 * Integration tests run against real servers, found in this order:
 *  1. KAFKA_BROKERS and ELASTICSEARCH_URL from the environment (an existing cluster);
 *  2. testcontainers, when a Docker engine answers;
 *  3. the local stack of processes (`trend-radar stack up`), started once for the run with empty
 *     data and stopped after it — unless it was already running, in which case it is left as
 *     found, less the topics and indices this run made.
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { serversFromEnv } from '../../shared/config/env.ts';
import { LocalStack, stackOptionsFromEnv } from '../../shared/stack/local-stack.ts';
import { dockerAnswers, startContainers } from './containers.ts';
import { deleteRunData } from './run-cleanup.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[integration] ${line}\n`);
  const runPrefix = `t-${randomBytes(3).toString('hex')}`;
  project.provide('runPrefix', runPrefix);
  const provide = (kafkaBrokers: string[], elasticsearchUrl: string, origin: string) => {
    log(`Kafka ${kafkaBrokers.join(',')} and Elasticsearch ${elasticsearchUrl} (${origin})`);
    project.provide('kafkaBrokers', kafkaBrokers);
    project.provide('elasticsearchUrl', elasticsearchUrl);
  };
  const cleanUp = async (kafkaBrokers: string[], elasticsearchUrl: string) => {
    try {
      const deleted = await deleteRunData(runPrefix, kafkaBrokers, elasticsearchUrl);
      log(`deleted this run's ${deleted.topics} topics and ${deleted.indices} indices (${runPrefix}-*)`);
    } catch (error) {
      log(`could not delete this run's topics and indices (${runPrefix}-*): ${String(error)}`);
    }
  };

  const servers = serversFromEnv();
  if (servers) {
    provide(servers.kafkaBrokers, servers.elasticsearchUrl, 'from the environment');
    return () => cleanUp(servers.kafkaBrokers, servers.elasticsearchUrl);
  }
  if (await dockerAnswers()) {
    const containers = await startContainers();
    provide([containers.kafkaBrokers], containers.elasticsearchUrl, 'testcontainers');
    return containers.stop;
  }
  const stack = new LocalStack(stackOptionsFromEnv(process.env, log));
  const started = await stack.up({ freshData: true });
  provide(
    [stack.kafkaBrokers],
    stack.elasticsearchUrl,
    started.length
      ? `local stack, started ${started.join(' and ')} with empty data`
      : 'local stack, already running',
  );
  return async () => {
    // Servers this run started were empty and are stopped; one it reused keeps running.
    const reusedOne = started.length < 2;
    if (reusedOne) await cleanUp([stack.kafkaBrokers], stack.elasticsearchUrl);
    for (const line of await stack.errorSummary(started)) log(line);
    if (started.length > 0) await stack.down(started);
  };
}
