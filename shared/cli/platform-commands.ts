import { type Command, InvalidArgumentError } from 'commander';
import type { TopicChange } from '../kafka/topics-admin.ts';

/** `--replication-factor`: a whole number of replicas, 1 to 32767 (Kafka's INT16). */
export function parseReplicationFactor(value: string): number {
  const n = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 32767)
    throw new InvalidArgumentError(
      'must be a whole number of replicas, 1 or more (and at most the brokers).',
    );
  return n;
}

const DRY_RUN_ACTIONS: Record<TopicChange['action'], string> = {
  created: 'would create',
  'partitions-increased': 'would add partitions',
  'config-updated': 'would update config',
  unchanged: 'unchanged',
};

/** One line of `topics apply`; a dry run says what it would do, not what it did. */
export function describeTopicChange(change: TopicChange, dryRun: boolean): string {
  const action = dryRun ? DRY_RUN_ACTIONS[change.action] : change.action;
  return `${action.padEnd(21)} ${change.topic}${change.detail ? `  (${change.detail})` : ''}`;
}

/** `stack`, `topics` and `contracts`: the platform the services run on. */
export function register(program: Command): void {
  const stack = program
    .command('stack')
    .description('Local Kafka (KRaft) and Elasticsearch as processes on loopback, no Docker needed.')
    .addHelpText(
      'after',
      '\nArtifacts are fetched once with Maven into $TREND_RADAR_HOME (default ~/.cache/trend-radar).\n' +
        'Ports: STACK_KAFKA_PORT (9092), STACK_ELASTICSEARCH_PORT (9200).',
    );
  stack
    .command('up')
    .description('start the broker and the node (reusing any already answering) and wait until healthy')
    .action(async () => {
      const { LocalStack, stackOptionsFromEnv } = await import('../stack/local-stack.ts');
      const local = new LocalStack(stackOptionsFromEnv(process.env, (line) => console.log(line)));
      const started = Date.now();
      await local.up();
      console.log(`stack ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      console.log(`  KAFKA_BROKERS=${local.kafkaBrokers}\n  ELASTICSEARCH_URL=${local.elasticsearchUrl}`);
    });
  stack
    .command('down')
    .description('stop what `stack up` started (never a server it found running)')
    .action(async () => {
      const { LocalStack, stackOptionsFromEnv } = await import('../stack/local-stack.ts');
      const stopped = await new LocalStack(
        stackOptionsFromEnv(process.env, (line) => console.log(line)),
      ).down();
      if (stopped.length === 0) console.log('nothing to stop: no component was started by `stack up`');
    });
  stack
    .command('status')
    .description('what runs, where, how healthy, and where its logs are')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const { LocalStack, stackOptionsFromEnv } = await import('../stack/local-stack.ts');
      const status = await new LocalStack(stackOptionsFromEnv()).status();
      if (options.json) {
        console.log(JSON.stringify(status, null, 2));
        return;
      }
      for (const c of status) {
        const owner =
          c.owner === 'managed'
            ? `started by stack up, pid ${c.pid}`
            : c.owner === 'external'
              ? 'not started by stack up'
              : 'not running';
        console.log(
          `${c.name.padEnd(14)} ${c.answering ? 'UP  ' : 'DOWN'} ${c.address.padEnd(24)} ${c.version ? `v${c.version}` : 'version unknown'}  ${c.health ?? ''}  (${owner})`,
        );
        if (c.logFile) console.log(`${''.padEnd(19)}log:  ${c.logFile}\n${''.padEnd(19)}data: ${c.dataDir}`);
      }
      if (status.some((c) => !c.answering)) process.exitCode = 1;
    });

  const topics = program
    .command('topics')
    .description('Kafka topics as declared in shared/contracts/topics.ts');
  topics
    .command('apply')
    .description('create missing topics, raise partitions, fix drifted configs (idempotent)')
    .option('--dry-run', 'only print what would change')
    .option(
      '--replication-factor <n>',
      'for new topics (at most the number of brokers)',
      parseReplicationFactor,
      1,
    )
    .action(async (options: { dryRun?: boolean; replicationFactor: number }) => {
      const { BaseEnv, loadConfig } = await import('../config/env.ts');
      const { createKafka } = await import('../kafka/client.ts');
      const { applyTopics } = await import('../kafka/topics-admin.ts');
      const { assertBrokersReachable } = await import('./errors.ts');
      const config = loadConfig(BaseEnv);
      await assertBrokersReachable(config.KAFKA_BROKERS);
      const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID });
      const dryRun = options.dryRun ?? false;
      const changes = await applyTopics(kafka, {
        namespace: config.TOPIC_NAMESPACE,
        replicationFactor: options.replicationFactor,
        dryRun,
      });
      for (const change of changes) console.log(describeTopicChange(change, dryRun));
      if (dryRun) console.log('dry run: nothing changed');
    });
  topics
    .command('list')
    .description('the declared topics with their partitions, policy and contract')
    .action(async () => {
      const { BaseEnv, loadConfig } = await import('../config/env.ts');
      const { TOPICS, topicName } = await import('../contracts/topics.ts');
      const { TOPIC_NAMESPACE } = loadConfig(BaseEnv);
      for (const spec of TOPICS) {
        console.log(
          `${topicName(spec.id, TOPIC_NAMESPACE).padEnd(42)} partitions=${spec.partitions} ${spec.config['cleanup.policy']}  key=${spec.keyDescription}  ${spec.description}`,
        );
      }
    });

  program
    .command('contracts')
    .description(
      "write the JSON Schema of every topic and the AsyncAPI document to the repository's docs/contracts",
    )
    .option(
      '--out <dir>',
      "output folder (default: the repository's docs/contracts, wherever this runs from)",
    )
    .action(async (options: { out?: string }) => {
      const { writeContractDocuments } = await import('../contracts/documents.ts');
      const written = await writeContractDocuments(options.out);
      for (const file of written) console.log(`wrote ${file}`);
    });
}
