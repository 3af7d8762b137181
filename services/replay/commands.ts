import type { Command } from 'commander';

interface CopyFlags {
  topic: string;
  to?: string;
  toNamespace?: string;
  from: string;
  until: string;
  rate?: string;
  dryRun?: boolean;
}

interface ResetFlags {
  group: string;
  topic: string;
  to: string;
  dryRun?: boolean;
  yes?: boolean;
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
      '\nTopics are contract ids (uploads, reorder-alerts, …; the namespace is TOPIC_NAMESPACE) or full broker names.\n' +
        'Positions: earliest, latest, an offset (applied to every partition) or an ISO instant such as 2026-03-01T10:00:00Z.\n' +
        'See docs/replay.md.',
    );

  replay
    .command('copy')
    .description(
      'copy records in [--from, --until) with keys, values, headers and timestamps, adding replay.* headers',
    )
    .requiredOption('--topic <topic>', 'source topic')
    .option('--to <topic>', 'target topic (must exist, must not be the source)')
    .option('--to-namespace <namespace>', 'target is the same contract topic in another namespace')
    .requiredOption('--from <position>', 'first position, inclusive')
    .option('--until <position>', 'end position, exclusive', 'latest')
    .option('--rate <records/s>', 'rate limit')
    .option('--dry-run', 'print the plan, copy nothing')
    .action(async (flags: CopyFlags) => {
      const { kafka, namespace, resolve } = await context();
      const { parseBound, describeBound, rangeSize } = await import('./plan.ts');
      const { copyRange, planCopy } = await import('./replay.ts');
      if (Boolean(flags.to) === Boolean(flags.toNamespace))
        throw new Error('give exactly one of --to or --to-namespace');
      const source = resolve(flags.topic, namespace);
      const target = flags.to ? resolve(flags.to, namespace) : resolve(flags.topic, flags.toNamespace!);
      const rate = flags.rate === undefined ? undefined : Number(flags.rate);
      if (rate !== undefined && !(rate > 0))
        throw new Error(`--rate must be a positive number, not ${flags.rate}`);
      const options = {
        source,
        target,
        from: parseBound(flags.from),
        until: parseBound(flags.until),
        ratePerSecond: rate,
      };
      const { ranges } = await planCopy(kafka, options);
      console.log(
        `copy ${source} → ${target}, ${describeBound(options.from)} … ${describeBound(options.until)} (exclusive)`,
      );
      for (const r of ranges)
        console.log(`  partition ${r.partition}: offsets ${r.start}…${r.end} (${r.end - r.start})`);
      console.log(`  at most ${rangeSize(ranges)} records${rate ? `, at ${rate} records/s` : ''}`);
      if (flags.dryRun) {
        console.log('dry run: nothing copied');
        return;
      }
      const bar = await progressBar();
      const result = await copyRange(kafka, { ...options, onProgress: bar.update });
      bar.stop();
      console.log(
        `copied ${result.copied} records (${result.skipped} outside the time window) with replay.id=${result.replayId}`,
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
    .action(async (flags: ResetFlags) => {
      const { kafka, namespace, resolve } = await context();
      const { parseBound, describeBound, confirmation } = await import('./plan.ts');
      const { planReset, applyReset } = await import('./replay.ts');
      const topic = resolve(flags.topic, namespace);
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
      if (plan.refusal) throw new Error(plan.refusal);
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
  const { TOPICS, topicName } = await import('../../shared/contracts/topics.ts');
  const config = loadConfig(BaseEnv);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-replay` });
  const ids = new Set<string>(TOPICS.map((t) => t.id));
  const resolve = (topic: string, namespace: string) =>
    ids.has(topic) ? topicName(topic as (typeof TOPICS)[number]['id'], namespace) : topic;
  return { kafka, namespace: config.TOPIC_NAMESPACE, resolve };
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
