/**
 * The servers a benchmark runs against. Benchmarks start none: they read KAFKA_BROKERS and
 * ELASTICSEARCH_URL as the services do (validated, blank = default) and check up front that they
 * answer, so that a missing stack fails at once with what to do — not half a minute later with
 * kafkajs' stack trace.
 */
import { assertBrokersReachable } from '../../../shared/cli/errors.ts';
import { BaseEnv, loadConfig } from '../../../shared/config/env.ts';

export const STACK_HINT =
  'benchmarks start no servers: start a stack (`npx trend-radar stack up`) and set KAFKA_BROKERS/ELASTICSEARCH_URL as it prints';

/** A benchmark's servers do not answer (or are misnamed); printed without a stack trace. */
export class BenchServersError extends Error {
  override name = 'BenchServersError';
}

export interface BenchServers {
  kafkaBrokers: string[];
  elasticsearchUrl: string;
}

/** KAFKA_BROKERS (and, with `elasticsearch`, ELASTICSEARCH_URL), checked to answer within seconds. */
export async function benchServers(
  options: { elasticsearch?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<BenchServers> {
  const { env = process.env, timeoutMs = 3_000 } = options;
  let servers: { KAFKA_BROKERS: string[]; ELASTICSEARCH_URL: string };
  try {
    servers = loadConfig(BaseEnv.pick({ KAFKA_BROKERS: true, ELASTICSEARCH_URL: true }), env);
  } catch (error) {
    throw new BenchServersError(`${(error as Error).message}\n  ${STACK_HINT}`);
  }
  try {
    await assertBrokersReachable(servers.KAFKA_BROKERS, timeoutMs);
  } catch (error) {
    const [problem] = (error as Error).message.split('\n');
    throw new BenchServersError(`${problem}\n  ${STACK_HINT}`);
  }
  if (options.elasticsearch) {
    const problem = await httpProblem(servers.ELASTICSEARCH_URL, timeoutMs);
    if (problem)
      throw new BenchServersError(
        `cannot reach Elasticsearch at ELASTICSEARCH_URL=${servers.ELASTICSEARCH_URL} (${problem})\n  ${STACK_HINT}`,
      );
  }
  return { kafkaBrokers: servers.KAFKA_BROKERS, elasticsearchUrl: servers.ELASTICSEARCH_URL };
}

/** Why `url` gives no HTTP answer within `timeoutMs`; undefined when it answers (any status). */
async function httpProblem(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return undefined;
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if ((error as Error).name === 'TimeoutError') return `no answer in ${timeoutMs / 1000}s`;
    return cause?.code ?? cause?.message ?? (error as Error).message;
  }
}
