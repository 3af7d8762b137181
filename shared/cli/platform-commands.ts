import { type Command, InvalidArgumentError } from 'commander';
import type { Kafka } from 'kafkajs';
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

const DURATION_UNITS: Array<[ms: number, unit: string]> = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1_000, 's'],
];

/** A `retention.ms` as people read it: "400 d", "36 h", "90 s"; -1 (no time limit) is "forever". */
export function formatRetentionMs(value: string): string {
  const ms = Number(value);
  if (!Number.isFinite(ms)) return `${value} ms`;
  if (ms < 0) return 'forever';
  for (const [size, unit] of DURATION_UNITS) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}

/**
 * How long a topic keeps its records, from its configs: "400 d" (deleted by time), "compact"
 * (the latest record of each key is kept), "compact + 7 d" (compact,delete); a size limit
 * (retention.bytes) is added as "400 d or 1073741824 B a partition". Kafka's defaults apply to
 * what is not set (delete, 7 d).
 */
export function describeRetention(config: Readonly<Record<string, string | undefined>>): string {
  const policies = (config['cleanup.policy'] ?? 'delete').split(',').map((p) => p.trim());
  if (!policies.includes('delete')) return 'compact';
  const bytes = Number(config['retention.bytes'] ?? -1);
  const time =
    formatRetentionMs(config['retention.ms'] ?? String(7 * 86_400_000)) +
    (bytes >= 0 ? ` or ${bytes} B a partition` : '');
  return policies.includes('compact') ? `compact + ${time}` : time;
}

const RETENTION_CONFIGS = ['cleanup.policy', 'retention.ms', 'retention.bytes'];

/** The retention configs of those of `names` that exist on the broker. */
async function retentionConfigs(kafka: Kafka, names: string[]): Promise<Map<string, Map<string, string>>> {
  const { default: kafkajs } = await import('kafkajs');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = names.filter((name) => existing.has(name));
    if (present.length === 0) return new Map();
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((name) => ({
        type: kafkajs.ConfigResourceTypes.TOPIC,
        name,
        configNames: RETENTION_CONFIGS,
      })),
    });
    return new Map(
      resources.map((r) => [
        r.resourceName,
        new Map(r.configEntries.map((e) => [e.configName, e.configValue])),
      ]),
    );
  } finally {
    await admin.disconnect();
  }
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
    .description(
      "the declared topics with their partitions, retention (the broker's, from its topic configs) and contract",
    )
    .action(async () => {
      const { BaseEnv, loadConfig } = await import('../config/env.ts');
      const { TOPICS, topicName } = await import('../contracts/topics.ts');
      const { createKafka } = await import('../kafka/client.ts');
      const { assertBrokersReachable, explainError } = await import('./errors.ts');
      const config = loadConfig(BaseEnv);
      const names = TOPICS.map((spec) => topicName(spec.id, config.TOPIC_NAMESPACE));
      let onBroker: Map<string, Map<string, string>> | undefined;
      try {
        await assertBrokersReachable(config.KAFKA_BROKERS);
        const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID });
        onBroker = await retentionConfigs(kafka, names);
      } catch (error) {
        console.error(`warning: ${explainError(error)}
  the retention shown is the declared one`);
      }
      TOPICS.forEach((spec, i) => {
        const name = names[i]!;
        const declared = describeRetention(spec.config);
        const current = onBroker?.get(name);
        const retention =
          onBroker === undefined
            ? `${declared} (declared)`
            : current === undefined
              ? `${declared} (declared; not on the broker: trend-radar topics apply)`
              : describeRetention(Object.fromEntries(current)) === declared
                ? declared
                : `${describeRetention(Object.fromEntries(current))} (declared ${declared}: trend-radar topics apply)`;
        console.log(
          `${name.padEnd(42)} partitions=${spec.partitions} retention=${retention}  key=${spec.keyDescription}  ${spec.description}`,
        );
      });
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
