import type { Command } from 'commander';

interface DemoFlags {
  catalogue?: string;
  days: string;
  uploadsPerDay: string;
  members: string;
  seed: string;
  trendBaseline: string;
  exit?: boolean;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job: local stack, every service, a simulated week with a planted micro-trend, alerts, summary',
    )
    .option(
      '--catalogue <dir>',
      'catalogue feed folder (luma format), e.g. ../shared/datasets/luma-catalogue; default: a synthetic catalogue rendered once',
    )
    .option('--days <n>', 'simulated days', '7')
    .option('--uploads-per-day <n>', 'organic photo uploads per day worldwide', '200')
    .option('--trend-baseline <n>', 'uploads per hour of the planted red shoe before its surge', '3')
    .option('--members <n>', 'community size', '2000')
    .option('--seed <n>', 'scenario seed (same seed, same week)', '7')
    .option('--exit', 'stop the services after the summary (default when not on a terminal)')
    .addHelpText(
      'after',
      '\nOn a terminal the services keep running after the summary, so the buyer inbox can be opened; Ctrl-C stops them.',
    )
    .action(async (flags: DemoFlags) => {
      const { runDemo } = await import('./run-demo.ts');
      const report = await runDemo({
        catalogueDir: flags.catalogue,
        days: Number(flags.days),
        uploadsPerDay: Number(flags.uploadsPerDay),
        members: Number(flags.members),
        seed: Number(flags.seed),
        trendBaselinePerHour: Number(flags.trendBaseline),
        keepRunning: !flags.exit && process.stdout.isTTY === true,
      });
      const missed = report.verdict.trends.filter((t) => t.alertedAt === null).length;
      const falseDecoys = report.verdict.decoys.filter((d) => d.alerted).length;
      process.exitCode = missed === 0 && falseDecoys === 0 ? 0 : 1;
      // Kafka clients keep sockets open briefly after disconnect; the demo is done.
      process.exit();
    });
}
