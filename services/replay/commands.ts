import type { Command } from 'commander';
import type { Kafka } from 'kafkajs';
import { type GroupUse, ReplayPlanError, resolveTopic, statefulGroupRefusal } from './plan.ts';
import type { CopyResult } from './replay.ts';

interface CopyFlags {
  topic: string;
  to?: string;
  toNamespace?: string;
  from: string;
  until: string;
  rate?: string;
  originalTopic?: string;
  service?: string;
  dryRun?: boolean;
}

interface ResetFlags {
  group: string;
  topic: string;
  to: string;
  dryRun?: boolean;
  yes?: boolean;
  create?: boolean;
}

/** `trend-radar replay copy` and `trend-radar replay reset-group`. */
export function register(program: Command): void {
  const replay = program
    .command('replay')
    .description(
      'Copy a range of a topic into another topic, or rewind a consumer group so a service reprocesses.',
    )
    .addHelpText(
      'after',
      '\nTopics are contract ids (uploads, reorder-alerts, …; the namespace is TOPIC_NAMESPACE) or full broker\n' +
        'names of contract topics (<namespace>.<id>.v<version>, e.g. staging.uploads.v1).\n' +
        'Positions: earliest, latest, an offset (applied to every partition) or an ISO instant such as 2026-03-01T10:00:00Z.\n' +
        'See docs/replay.md.',
    );

  replay
    .command('copy')
    .description(
      'copy records in [--from, --until) with keys, values, headers and timestamps, adding replay.* headers',
    )
    .requiredOption('--topic <topic>', 'source topic')
    .option('--to <topic>', 'target topic (must exist, must not be the source; any existing topic name)')
    .option('--to-namespace <namespace>', 'target is the same contract topic in another namespace')
    .requiredOption('--from <position>', 'first position, inclusive')
    .option('--until <position>', 'end position, exclusive', 'latest')
    .option('--rate <records/s>', 'rate limit')
    .option(
      '--original-topic <topic>',
      'with --topic dead-letters: only the dead letters of this topic (dlq.original.topic); required to copy them onto a contract topic',
    )
    .option(
      '--service <name>',
      'with --topic dead-letters: only the dead letters this service wrote (dlq.service: embedder, indexer, notifier, …)',
    )
    .option('--dry-run', 'print the plan, copy nothing')
    .action(async (flags: CopyFlags) => {
      const { kafka, namespace, contracts } = await context();
      const { parseBound, describeBound, rangeSize } = await import('./plan.ts');
      const { copyRange, planCopy } = await import('./replay.ts');
      const { source, target, originalTopic, service } = copyTopics(flags, namespace, contracts);
      const rate = flags.rate === undefined ? undefined : Number(flags.rate);
      if (rate !== undefined && !(rate > 0))
        throw new Error(`--rate must be a positive number, not ${flags.rate}`);
      const options = {
        source,
        target,
        from: parseBound(flags.from),
        until: parseBound(flags.until),
        ratePerSecond: rate,
        ...(originalTopic ? { originalTopic } : {}),
        ...(service ? { service } : {}),
      };
      const { ranges } = await planCopy(kafka, options);
      console.log(
        `copy ${source} → ${target}, ${describeBound(options.from)} … ${describeBound(options.until)} (exclusive)`,
      );
      for (const r of ranges)
        console.log(`  partition ${r.partition}: offsets ${r.start}…${r.end} (${r.end - r.start})`);
      console.log(`  at most ${rangeSize(ranges)} records${rate ? `, at ${rate} records/s` : ''}`);
      if (originalTopic) console.log(`  only dead letters whose dlq.original.topic is ${originalTopic}`);
      if (service) console.log(`  only dead letters whose dlq.service is ${service}`);
      if (originalTopic) console.log(redriveNote(service));
      console.log(repeatWarning(target));
      if (flags.dryRun) {
        console.log('dry run: nothing copied');
        return;
      }
      const bar = await progressBar();
      const result = await copyRange(kafka, { ...options, onProgress: bar.update });
      bar.stop();
      console.log(copySummary(result, { originalTopic, service }));
      if (result.duplicates > 0)
        console.log(
          `left ${result.duplicates} dead letters on ${source} whose original record this run had already re-driven ` +
            '(the same dlq.original.topic/partition/offset, dead-lettered by another service or again after a rewind): ' +
            'each original goes back once',
        );
      if (result.incomplete > 0)
        console.log(
          `left ${result.incomplete} dead letters on ${source}: they were cut to fit the broker's limit ` +
            '(dlq.value.truncated or dlq.key.dropped), so they are not the original records; ' +
            'their dlq.original.* headers say where the originals are while the topic retains them',
        );
    });

  replay
    .command('reset-group')
    .description("move a stopped service's consumer group to a position so it reprocesses from there")
    .requiredOption('--group <group>', 'consumer group id, e.g. trendradar.notifier')
    .requiredOption('--topic <topic>', 'the topic whose offsets move')
    .requiredOption('--to <position>', 'earliest, latest, an offset or an instant')
    .option('--dry-run', 'print the plan, change nothing')
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--create', 'the group is new (no committed offsets yet): give it this starting position')
    .action(async (flags: ResetFlags) => {
      // Before the broker: no flag makes this safe, --dry-run included.
      const stateful = statefulGroupRefusal(flags.group);
      if (stateful) throw new ReplayPlanError(stateful);
      const { kafka, namespace, contracts } = await context();
      const { parseBound, describeBound, confirmation, newGroupRefusal, resolveTopic } = await import(
        './plan.ts'
      );
      const { planReset, applyReset } = await import('./replay.ts');
      const topic = resolveTopic(flags.topic, namespace, contracts).name;
      const plan = await planReset(kafka, { group: flags.group, topic, to: parseBound(flags.to) });
      console.log(`reset group ${plan.group} on ${topic} to ${describeBound(parseBound(flags.to))}`);
      for (const p of plan.partitions) {
        const change =
          p.delta === undefined
            ? '(no committed offset)'
            : p.delta >= 0n
              ? `re-reads ${p.delta}`
              : `skips ${-p.delta}`;
        console.log(`  partition ${p.partition}: ${p.current ?? '—'} → ${p.target}  ${change}`);
      }
      if (plan.refusal) {
        // A dry run shows what would block the real run, and is not itself refused.
        if (!flags.dryRun) throw new Error(plan.refusal);
        console.log(`note: without --dry-run this would be refused now: ${plan.refusal}`);
      }
      if (!plan.live) {
        // No committed offset on this topic: a group that never ran (a typo?) or one new to it.
        const use = await groupUse(kafka, plan.group);
        const refusal = newGroupRefusal(use, flags.create ?? false);
        if (refusal) throw new Error(refusal);
        if (use.committedTopics.length > 0)
          console.log(
            `note: ${plan.group} has no committed offsets on ${topic} yet (it has on ${use.committedTopics.join(', ')}); this sets its first position there`,
          );
        else if (use.members === 0)
          console.log(`note: ${plan.group} is a new group (--create); this sets its first position`);
      }
      if (flags.dryRun) {
        console.log('dry run: nothing changed');
        return;
      }
      const go = confirmation(plan.live, {
        yes: flags.yes ?? false,
        interactive: Boolean(process.stdin.isTTY),
      });
      if (go === 'refuse')
        throw new Error(`group ${plan.group} is in use; re-run with --yes to reset it without a terminal`);
      if (
        go === 'ask' &&
        !(await ask(`Reset ${plan.group}? Its service will reprocess these records. [y/N] `))
      ) {
        console.log('cancelled');
        return;
      }
      await applyReset(kafka, plan);
      console.log(`group ${plan.group} reset; start its service to reprocess`);
    });
}

async function context() {
  const { BaseEnv, loadConfig } = await import('../../shared/config/env.ts');
  const { createKafka } = await import('../../shared/kafka/client.ts');
  const { TOPICS } = await import('../../shared/contracts/topics.ts');
  const { assertBrokersReachable } = await import('../../shared/cli/errors.ts');
  const config = loadConfig(BaseEnv);
  await assertBrokersReachable(config.KAFKA_BROKERS);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-replay` });
  return { kafka, namespace: config.TOPIC_NAMESPACE, contracts: TOPICS };
}

type Contracts = Parameters<typeof resolveTopic>[2];

/**
 * Source and target of `replay copy`. The source is a contract topic (by id, or by full name in any
 * namespace); `--to-namespace` means the same contract topic there; `--to` names any existing
 * topic (a contract id or full name, or a topic outside the contracts).
 *
 * `dead-letters` holds the failed records of every topic. Copied onto another contract topic (a
 * re-drive), only the dead letters of that topic belong there: `--original-topic` (matched against
 * the `dlq.original.topic` header) is then required and must name the target's contract topic.
 */
export function copyTopics(
  flags: Pick<CopyFlags, 'topic' | 'to' | 'toNamespace' | 'originalTopic' | 'service'>,
  namespace: string,
  contracts: Contracts,
): { source: string; target: string; originalTopic?: string; service?: string } {
  if (Boolean(flags.to) === Boolean(flags.toNamespace))
    throw new ReplayPlanError('give exactly one of --to or --to-namespace');
  const source = resolveTopic(flags.topic, namespace, contracts);
  let target: { name: string; id?: string };
  if (flags.toNamespace !== undefined) {
    if (!NAMESPACE.test(flags.toNamespace))
      throw new ReplayPlanError(
        `--to-namespace "${flags.toNamespace}" is not a namespace: lowercase letters, digits, _ and - only`,
      );
    target = resolveTopic(source.id, flags.toNamespace, contracts);
  } else {
    try {
      target = resolveTopic(flags.to!, namespace, contracts);
    } catch {
      target = { name: flags.to!.trim() }; // not a contract topic: taken as the broker's name for it
    }
  }
  const service = flags.service?.trim();
  if (flags.service !== undefined && source.id !== DEAD_LETTERS)
    throw new ReplayPlanError(
      `--service selects dead letters by their dlq.service header: it needs --topic ${DEAD_LETTERS}, not ${flags.topic}`,
    );
  if (flags.service !== undefined && !service)
    throw new ReplayPlanError('--service needs a service name (embedder, indexer, notifier, …)');
  const withService = service ? { service } : {};
  if (flags.originalTopic === undefined) {
    if (source.id === DEAD_LETTERS && target.id !== undefined && target.id !== DEAD_LETTERS)
      throw new ReplayPlanError(
        `refusing to copy all of ${source.name} onto ${target.name}: the dead-letter topic holds the failed records ` +
          `of every topic, and those of other topics (alert actions, mentions, …) do not belong on ${target.id}. ` +
          `Re-drive only the dead letters of ${target.id} with --original-topic ${target.id}.`,
      );
    return { source: source.name, target: target.name, ...withService };
  }
  if (source.id !== DEAD_LETTERS)
    throw new ReplayPlanError(
      `--original-topic selects dead letters by their dlq.original.topic header: it needs --topic ${DEAD_LETTERS}, not ${flags.topic}`,
    );
  // Dead letters name their original topic in full, in the namespace where they failed.
  const original = resolveTopic(flags.originalTopic, source.namespace, contracts);
  if (target.id !== undefined && target.id !== DEAD_LETTERS && target.id !== original.id)
    throw new ReplayPlanError(
      `refusing to re-drive dead letters of ${original.name} onto ${target.name}: they belong on ${original.id}`,
    );
  return { source: source.name, target: target.name, originalTopic: original.name, ...withService };
}

const DEAD_LETTERS = 'dead-letters';

/** What a finished copy prints: how many records went, and why the others did not. */
export function copySummary(
  result: Pick<CopyResult, 'copied' | 'skipped' | 'filtered' | 'duplicates' | 'replayId'>,
  filters: { originalTopic?: string | undefined; service?: string | undefined },
): string {
  const left = [`${result.skipped} outside the time window`];
  if (filters.originalTopic || filters.service) {
    const of = [
      filters.originalTopic ? 'of other topics' : undefined,
      filters.service ? `of other services than ${filters.service}` : undefined,
    ]
      .filter(Boolean)
      .join(' or ');
    left.push(`${result.filtered} dead letters ${of}`);
  }
  if (filters.originalTopic)
    left.push(`${result.duplicates} more dead letters of a record already re-driven in this run`);
  return `copied ${result.copied} records (${left.join(', ')}) with replay.id=${result.replayId}`;
}

/**
 * Printed with a re-drive's plan: why a bad record has several dead letters, that this run puts
 * each original back once, and how not to put it back again in a later run.
 */
export const redriveNote = (service?: string) =>
  'note: a bad record is dead-lettered once by each service that consumes its topic (uploads: the embedder ' +
  'and the indexer), and again after its group is rewound (replay reset-group); ' +
  (service
    ? `--service ${service} keeps one service's, and each original goes back once; `
    : 'this re-drive puts each original record (dlq.original.topic/partition/offset) back once and counts the others; ') +
  'a later re-drive of the same dead letters puts them back again: start the next one with --from where this one ends ' +
  '(its --until, or the replay.at of what it copies); dead letters of records it puts back that fail again carry its replay.id';

/** Printed with every copy plan: a copy appends, so running it again duplicates the range. */
export const repeatWarning = (target: string) =>
  `warning: a copy appends — if this range was copied into ${target} before, running it again puts ` +
  'every record there twice (the earlier copy carries the same replay.source headers); check before re-running';

/** As TOPIC_NAMESPACE (shared/config/env.ts). */
const NAMESPACE = /^[a-z0-9][a-z0-9_-]*$/;

/** The topics a group has committed offsets on, its members, and the groups the cluster knows. */
async function groupUse(kafka: Kafka, group: string): Promise<GroupUse> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [description] = (await admin.describeGroups([group])).groups;
    const offsets = await admin.fetchOffsets({ groupId: group });
    const committedTopics = offsets
      .filter((t) => t.partitions.some((p) => BigInt(p.offset) >= 0n))
      .map((t) => t.topic);
    const knownGroups = (await admin.listGroups()).groups.map((g) => g.groupId);
    return { group, members: description?.members.length ?? 0, committedTopics, knownGroups };
  } finally {
    await admin.disconnect();
  }
}

async function progressBar() {
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      format: ' {bar} {percentage}% | {value}/{total} offsets | {rate} records/s | ETA {eta_formatted}',
      etaBuffer: 50,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  let begun = false;
  return {
    update: (done: number, total: number) => {
      const rate = Math.round(done / Math.max((Date.now() - started) / 1000, 0.001));
      if (!begun) {
        bar.start(total, done, { rate });
        begun = true;
      } else bar.update(done, { rate });
    },
    stop: () => bar.stop(),
  };
}

async function ask(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
